/* What dpdk-sys binds: EAL, lcores, ethdev, mbufs and their pools. */
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_launch.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mempool.h>
#include <rte_cycles.h>
#include <rte_bus_vdev.h>
#include <rte_version.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
