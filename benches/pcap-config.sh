# Sourced by benches/compare-*.sh: pcap_config FILE PCAP writes our
# l3fwd-graph config for two pcap ports replaying PCAP forever, polled by
# one worker lcore on CPU 1 (the setup the native comparisons share);
# gen_config FILE the same with two generator ports.
pcap_config() {
  cat >"$1" <<TOML
stats_interval = 0
[[port]]
id = 0
backend = "pcap"
params = { rx_pcap = "$2", loop = "forever" }
[[port]]
id = 1
backend = "pcap"
params = { rx_pcap = "$2", loop = "forever" }
[[lcore]]
id = 1
cpu = 1
rx = [[0, 0], [1, 0]]
TOML
}

gen_config() {
  cat >"$1" <<TOML
stats_interval = 0
[[port]]
id = 0
backend = "generator"
[[port]]
id = 1
backend = "generator"
[[lcore]]
id = 1
cpu = 1
rx = [[0, 0], [1, 0]]
TOML
}
