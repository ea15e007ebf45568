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

/* rte_lpm's lookups are static inline: these loops run them over an array
 * in C, so that a comparison with another LPM pays no call per lookup.
 * Each returns the number of misses. */
unsigned int rgraph_lpm_lookup_loop(const struct rte_lpm *lpm, const uint32_t *ips, unsigned int n)
{
	unsigned int misses = 0;
	uint32_t nh;
	for (unsigned int i = 0; i < n; i++)
		misses += rte_lpm_lookup(lpm, ips[i], &nh) != 0;
	return misses;
}

unsigned int rgraph_lpm_bulk_loop(const struct rte_lpm *lpm, const uint32_t *ips, unsigned int n, unsigned int batch)
{
	unsigned int misses = 0;
	uint32_t nhs[256];
	if (batch > 256)
		batch = 256;
	for (unsigned int i = 0; i + batch <= n; i += batch) {
		rte_lpm_lookup_bulk(lpm, ips + i, nhs, batch);
		for (unsigned int k = 0; k < batch; k++)
			misses += (nhs[k] & RTE_LPM_LOOKUP_SUCCESS) == 0;
	}
	return misses;
}

unsigned int rgraph_lpm_x4_loop(const struct rte_lpm *lpm, const uint32_t *ips, unsigned int n)
{
	unsigned int misses = 0;
	uint32_t hop[4];
	for (unsigned int i = 0; i + 4 <= n; i += 4) {
		xmm_t v = _mm_loadu_si128((const __m128i *)(ips + i));
		rte_lpm_lookupx4(lpm, v, hop, UINT32_MAX);
		for (int k = 0; k < 4; k++)
			misses += hop[k] == UINT32_MAX;
	}
	return misses;
}

/* rte_lpm6 lookups over an array of 16-byte addresses, in C as the IPv4
 * loops above: single and bulk (rte_lpm6_lookup_bulk_func, in batches of
 * `batch`, at most 256). Each returns the number of misses. */
unsigned int rgraph_lpm6_lookup_loop(const struct rte_lpm6 *lpm, const uint8_t *ips, unsigned int n)
{
	unsigned int misses = 0;
	uint32_t nh;
	for (unsigned int i = 0; i < n; i++)
		misses += rte_lpm6_lookup(lpm, ips + 16 * i, &nh) != 0;
	return misses;
}

unsigned int rgraph_lpm6_bulk_loop(const struct rte_lpm6 *lpm, const uint8_t *ips, unsigned int n, unsigned int batch)
{
	unsigned int misses = 0;
	int32_t nhs[256];
	if (batch > 256)
		batch = 256;
	for (unsigned int i = 0; i + batch <= n; i += batch) {
		rte_lpm6_lookup_bulk_func(lpm, (uint8_t (*)[16])(ips + 16 * i), nhs, batch);
		for (unsigned int k = 0; k < batch; k++)
			misses += nhs[k] < 0;
	}
	return misses;
}
