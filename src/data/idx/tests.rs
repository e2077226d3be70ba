use std::io::Write;

use super::*;
use crate::data::tests::{classes_of, write};

fn idx_bytes(type_code: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, type_code, dims.len() as u8];
    for d in dims {
        bytes.extend(d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

const PIXELS: [u8; 12] = [0, 1, 2, 3, 10, 20, 30, 40, 255, 254, 253, 252];

fn tiny_images() -> Vec<u8> {
    idx_bytes(0x08, &[3, 2, 2], &PIXELS)
}

fn tiny_labels(labels: &[u8]) -> Vec<u8> {
    idx_bytes(0x08, &[labels.len() as u32], labels)
}

fn idx_err(images: &[u8], labels: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let i = write(dir.path(), "images", images);
    let l = write(dir.path(), "labels", labels);
    match read_idx(&i, &l) {
        Err(e @ Error::Data { line: 0, column: 0, .. }) => e.to_string(),
        other => panic!("expected a data error, got {other:?}"),
    }
}

#[test]
fn idx_round_trip_raw_and_gzipped() {
    let dir = tempfile::tempdir().unwrap();
    let images = tiny_images();
    let labels = tiny_labels(&[7, 2, 7]);
    for gz in [false, true] {
        let wrap = |b: &[u8]| if gz { gzip(b) } else { b.to_vec() };
        let i = write(dir.path(), "i", &wrap(&images));
        let l = write(dir.path(), "l", &wrap(&labels));
        let data = read_idx(&i, &l).unwrap();
        assert_eq!((data.len(), data.n_features()), (3, 4));
        let expected: Vec<f32> = PIXELS.iter().map(|&p| f32::from(p)).collect();
        assert_eq!(data.x.as_slice(), expected.as_slice());
        assert_eq!(data.feature_names, ["px0", "px1", "px2", "px3"]);
        let (labels, classes) = classes_of(&data);
        assert_eq!(classes, ["2", "7"]);
        assert_eq!(labels, [1, 0, 1]);
    }
}

#[test]
fn idx_truncated() {
    let mut images = tiny_images();
    images.truncate(images.len() - 2);
    let err = idx_err(&images, &tiny_labels(&[1, 2, 3]));
    assert!(
        err.contains("truncated IDX file: header promises 3×2×2 bytes, found 10"),
        "{err}"
    );
    assert!(err.contains("images"), "{err}");
    let err = idx_err(&tiny_images()[..9], &tiny_labels(&[1, 2, 3]));
    assert!(err.contains("truncated"), "{err}");
    let err = idx_err(&tiny_images(), &gzip(&tiny_labels(&[1, 2, 3]))[..1]);
    assert!(err.contains("truncated"), "{err}");
}

#[test]
fn idx_header_promising_too_much_is_refused_before_reading() {
    // 2^14 × 2^13 × 2^13 = 2^40 pixels, promised by a gzip file of a few dozen bytes
    let dir = tempfile::tempdir().unwrap();
    let bomb = gzip(&idx_bytes(0x08, &[1 << 14, 1 << 13, 1 << 13], &[0; 4096]));
    assert!(bomb.len() < 200);
    let images = write(dir.path(), "bomb.gz", &bomb);
    let labels = write(dir.path(), "labels", &tiny_labels(&[1]));
    let err = read_idx(&images, &labels).unwrap_err();
    assert!(matches!(err, Error::Memory { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("bomb.gz (16384×8192×8192 bytes) needs about 5.0 TiB"),
        "{text}"
    );
}

#[test]
fn idx_files_must_hold_exactly_what_the_header_promises() {
    let mut longer = tiny_images();
    longer.extend([7, 7]);
    for (wrap, found) in [(false, "found 14"), (true, "found more")] {
        let bytes = if wrap { gzip(&longer) } else { longer.clone() };
        let err = idx_err(&bytes, &tiny_labels(&[1, 2, 3]));
        assert!(err.contains("images: IDX file longer than its header says"), "{err}");
        assert!(err.contains(&format!("header promises 3×2×2 bytes, {found}")), "{err}");
    }
    let mut shorter = tiny_images();
    shorter.truncate(shorter.len() - 3);
    let err = idx_err(&gzip(&shorter), &tiny_labels(&[1, 2, 3]));
    assert!(
        err.contains("images: truncated IDX file: header promises 3×2×2 bytes, found 9"),
        "{err}"
    );
    // A gzip stream cut short.
    let cut = gzip(&tiny_images());
    let err = idx_err(&cut[..cut.len() - 6], &tiny_labels(&[1, 2, 3]));
    assert!(err.contains("images: corrupt gzip data"), "{err}");
}

#[test]
fn idx_without_images_or_pixels_names_the_file() {
    for dims in [[0, 2, 2], [3, 0, 5]] {
        let err = idx_err(
            &idx_bytes(0x08, &dims, &[]),
            &tiny_labels(&[1, 2, 3][..dims[0] as usize]),
        );
        assert!(err.contains("images: the IDX header promises"), "{err}");
    }
}

#[test]
fn idx_bad_magic_and_types() {
    let labels = tiny_labels(&[1, 2, 3]);
    let mut images = tiny_images();
    images[0] = 0x50;
    let err = idx_err(&images, &labels);
    assert!(err.contains("bad magic number 0x50000803"), "{err}");
    let err = idx_err(&idx_bytes(0x0d, &[3, 2, 2], &[0; 48]), &labels);
    assert!(err.contains("unsupported IDX element type 0x0d"), "{err}");
    // Image and label files swapped.
    let err = idx_err(&labels, &tiny_images());
    assert!(err.contains("expected an IDX image file with 3 dimension(s)"), "{err}");
}

#[test]
fn idx_mismatched_counts() {
    let err = idx_err(&tiny_images(), &tiny_labels(&[1, 2]));
    assert!(err.contains("2 labels") && err.contains("3 images"), "{err}");
    assert!(err.contains("labels: 2 labels"), "{err}");
}

#[test]
fn idx_directory() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "train-images-idx3-ubyte.gz", &gzip(&tiny_images()));
    write(dir.path(), "train-labels-idx1-ubyte", &tiny_labels(&[0, 1, 1]));
    write(
        dir.path(),
        "t10k-images-idx3-ubyte",
        &idx_bytes(0x08, &[1, 2, 2], &[9; 4]),
    );
    let err = read_idx_dir(dir.path()).unwrap_err().to_string();
    assert!(err.contains("t10k-labels-idx1-ubyte"), "{err}");
    write(dir.path(), "t10k-labels.idx1-ubyte.gz", &gzip(&tiny_labels(&[5])));
    let split = read_idx_dir(dir.path()).unwrap();
    let test = split.test.unwrap();
    assert_eq!((split.train.len(), test.len()), (3, 1));
    // Both sets get the union of the classes.
    assert_eq!(classes_of(&split.train), (&[0, 1, 1][..], vec!["0", "1", "5"]));
    assert_eq!(classes_of(&test), (&[2][..], vec!["0", "1", "5"]));
    assert!(matches!(
        read_idx_dir(&dir.path().join("absent")),
        Err(Error::Io { .. })
    ));
}

/// Loads the Fashion-MNIST files of the Debian package `dataset-fashion-mnist`, when
/// installed (`cargo test --release -- --ignored fashion`).
#[test]
#[ignore = "needs /usr/share/datasets/fashion-mnist"]
fn fashion_mnist_from_debian_package() {
    let dir = Path::new("/usr/share/datasets/fashion-mnist");
    if !dir.is_dir() {
        return;
    }
    let start = std::time::Instant::now();
    let split = read_idx_dir(dir).unwrap();
    eprintln!("loaded Fashion-MNIST in {:?}", start.elapsed());
    let test = split.test.unwrap();
    assert_eq!((split.train.len(), split.train.n_features()), (60000, 784));
    assert_eq!((test.len(), test.n_features()), (10000, 784));
    assert_eq!(classes_of(&test).1.len(), 10);
}

#[test]
fn gzip_files_are_decompressed_whole_member_after_member() {
    let dir = tempfile::tempdir().unwrap();
    let images = tiny_images();
    // One member, then the same bytes split over three members (as `cat a.gz b.gz` makes).
    let mut members = gzip(&images[..5]);
    members.extend(gzip(&images[5..9]));
    members.extend(gzip(&images[9..]));
    for (name, bytes) in [("one.gz", gzip(&images)), ("three.gz", members)] {
        let path = write(dir.path(), name, &bytes);
        let file = read_gzip_whole(&path, 3)
            .unwrap()
            .expect("the whole-file path reads it");
        assert_eq!(
            (file.dims.as_slice(), file.data()),
            ([3, 2, 2].as_slice(), PIXELS.as_slice())
        );
        let data = read_idx(&path, &write(dir.path(), "l", &tiny_labels(&[1, 2, 3]))).unwrap();
        let expected: Vec<f32> = PIXELS.iter().map(|&p| f32::from(p)).collect();
        assert_eq!(data.x.as_slice(), expected.as_slice());
    }
    // Anything but exactly the promised bytes goes to the stream reader, which explains it.
    let mut longer = images.clone();
    longer.push(9);
    for bytes in [
        gzip(&longer),
        gzip(&images[..10]),
        gzip(&images)[..20].to_vec(),
        images.clone(),
    ] {
        let path = write(dir.path(), "odd.gz", &bytes);
        assert!(read_gzip_whole(&path, 3).unwrap().is_none());
    }
}
