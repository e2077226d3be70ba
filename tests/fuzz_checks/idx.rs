//! Bytes as a pair of IDX files (images and labels, raw or gzipped) through `read_idx`.
//!
//! Input layout: byte 0 holds flags (bit 0: gzip the image file, bit 1: gzip the label file),
//! bytes 1–2 the length of the image file (little-endian, cut to what is there); the image
//! file follows and the label file is the rest. Parts that are gzip data already (a corpus
//! file can hold them) are passed as they are, so the fuzzer also corrupts gzip streams.

use std::io::Write;

use actlab::data::read_idx;
use actlab::Target;

/// Reads the two files of `bytes` with `read_idx`.
pub fn check(bytes: &[u8]) {
    let Some((&[flags, lo, hi], rest)) = bytes.split_first_chunk::<3>() else {
        return;
    };
    let (images, labels) = rest.split_at(usize::from(u16::from_le_bytes([lo, hi])).min(rest.len()));
    let images = super::scratch_file("images-idx3-ubyte", &maybe_gzip(images, flags & 1 != 0));
    let labels = super::scratch_file("labels-idx1-ubyte", &maybe_gzip(labels, flags & 2 != 0));
    let Ok(data) = read_idx(&images, &labels) else {
        return;
    };
    let (rows, cols) = (data.len(), data.n_features());
    assert_eq!(data.x.as_slice().len(), rows * cols);
    assert_eq!(data.feature_names.len(), cols);
    assert!(
        data.x
            .as_slice()
            .iter()
            .all(|&v| (0.0..=255.0).contains(&v) && v.fract() == 0.0),
        "a pixel is not a byte value"
    );
    let Target::Classes { labels, classes } = &data.target else {
        panic!("IDX data without class labels");
    };
    assert_eq!(labels.len(), rows);
    assert!(
        labels.iter().all(|&l| (l as usize) < classes.len()),
        "a label is out of range"
    );
    let values: Vec<u8> = classes
        .iter()
        .map(|c| c.parse().expect("a class is a byte value"))
        .collect();
    assert!(
        values.windows(2).all(|w| w[0] < w[1]),
        "classes are not in ascending order"
    );
}

fn maybe_gzip(bytes: &[u8], gzip: bool) -> Vec<u8> {
    if !gzip {
        return bytes.to_vec();
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}
