//! What the Rust peers share with each other and with `bench/peers/common.py`: Fashion-MNIST
//! from the gzip IDX files, standardized with one mean and one standard deviation over all
//! training pixels (actlab's `--scaling global`), command-line values and JSON output.

use std::io::Read;

/// `--name value` from the command line, or `default`.
pub fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == &format!("--{name}"))
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("--{name}: cannot parse {v}")))
        .unwrap_or(default)
}

/// `--threads` (default 1), handed to rayon (`RAYON_NUM_THREADS`, which candle's and burn-flex's
/// matrix products read) and to matrixmultiply (`MMTHREADS`, burn-ndarray's products) before
/// any of them starts.
pub fn set_threads() -> usize {
    let threads = arg("threads", 1usize);
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    std::env::set_var("MMTHREADS", threads.to_string());
    threads
}

fn idx(path: &str) -> (Vec<usize>, Vec<u8>) {
    let mut data = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .read_to_end(&mut data)
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let dims = data[3] as usize;
    let shape = (0..dims)
        .map(|i| u32::from_be_bytes(data[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize)
        .collect();
    (shape, data[4 + 4 * dims..].to_vec())
}

/// Fashion-MNIST's training set from `$FASHION_MNIST` (default
/// `/usr/share/datasets/fashion-mnist`): 60 000 × 784 standardized f32 pixels, row-major, and
/// the labels.
pub fn fashion_mnist_train() -> (Vec<f32>, Vec<u32>) {
    let dir = std::env::var("FASHION_MNIST").unwrap_or_else(|_| "/usr/share/datasets/fashion-mnist".into());
    let (shape, pixels) = idx(&format!("{dir}/train-images-idx3-ubyte.gz"));
    let (_, labels) = idx(&format!("{dir}/train-labels-idx1-ubyte.gz"));
    assert_eq!(shape, [labels.len(), 28, 28]);
    let n = pixels.len() as f64;
    let mean = pixels.iter().map(|&p| p as f64).sum::<f64>() / n;
    let std = (pixels.iter().map(|&p| (p as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
    let x = pixels.iter().map(|&p| ((p as f64 - mean) / std) as f32).collect();
    (x, labels.into_iter().map(u32::from).collect())
}

/// Peak resident memory of this process (VmHWM), in bytes.
pub fn max_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
