//! The pcap reader on arbitrary files: an error or frames, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(frames) = graph_nodes::port::pcap::parse_pcap(data) {
        // Every frame lies inside the input.
        let total: usize = frames.iter().map(|f| f.len()).sum();
        assert!(total <= data.len());
    }
});
