/* Exported copies of DPDK's static inline functions that Rust calls
 * (bindgen cannot bind inline functions). Each is a one-line forwarder. */
#include "wrapper.h"

uint16_t rgraph_rte_eth_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_rx_burst(port, queue, pkts, n);
}

uint16_t rgraph_rte_eth_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_tx_burst(port, queue, pkts, n);
}

int rgraph_rte_pktmbuf_alloc_bulk(struct rte_mempool *pool, struct rte_mbuf **mbufs, unsigned int count)
{
	return rte_pktmbuf_alloc_bulk(pool, mbufs, count);
}

void rgraph_rte_pktmbuf_free(struct rte_mbuf *m)
{
	rte_pktmbuf_free(m);
}

unsigned int rgraph_rte_lcore_id(void)
{
	return rte_lcore_id();
}

int rgraph_rte_errno(void)
{
	return rte_errno;
}

unsigned int rgraph_rte_mempool_avail_count(const struct rte_mempool *mp)
{
	return rte_mempool_avail_count(mp);
}

unsigned int rgraph_rte_mempool_in_use_count(const struct rte_mempool *mp)
{
	return rte_mempool_in_use_count(mp);
}

uint64_t rgraph_rte_get_tsc_hz(void)
{
	return rte_get_tsc_hz();
}
