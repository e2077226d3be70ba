use super::*;
use crate::data::stratified_split;
use crate::data::tests::write;
use crate::Target;

/// A directory in the MNIST layout: two 1×2 training images labelled 3 and 5, one test image
/// labelled 5.
fn idx_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let file = |dims: &[u32], data: &[u8]| {
        let mut bytes = vec![0, 0, 0x08, dims.len() as u8];
        bytes.extend(dims.iter().flat_map(|d| d.to_be_bytes()));
        bytes.extend_from_slice(data);
        bytes
    };
    write(
        dir.path(),
        "train-images-idx3-ubyte",
        &file(&[2, 1, 2], &[0, 255, 10, 20]),
    );
    write(dir.path(), "train-labels-idx1-ubyte", &file(&[2], &[3, 5]));
    write(dir.path(), "t10k-images-idx3-ubyte", &file(&[1, 1, 2], &[7, 8]));
    write(dir.path(), "t10k-labels-idx1-ubyte", &file(&[1], &[5]));
    dir
}

fn spec(dir: &tempfile::TempDir) -> String {
    dir.path().to_str().unwrap().to_string()
}

#[test]
fn idx_directories_are_images_and_stay_so_through_tasks_and_splits() {
    let dir = idx_dir();
    let source = load(&spec(&dir), &LoadOptions::default()).unwrap();
    assert_eq!(source.name, spec(&dir));
    let test = source.split.test.as_ref().unwrap();
    assert_eq!((source.split.train.len(), test.len()), (2, 1));
    assert_eq!(source.split.train.x.as_slice(), &[0.0, 255.0, 10.0, 20.0]);
    assert!(source.split.train.images && test.images);
    let (train, held_out) = stratified_split(&source.split.train, 0.5, 0);
    assert!(train.images && held_out.images);
    let regression = LoadOptions {
        task: Some(Task::Regression),
        ..LoadOptions::default()
    };
    let source = load(&spec(&dir), &regression).unwrap();
    assert_eq!(source.split.train.target, Target::Values(vec![3.0, 5.0]));
    assert!(source.split.train.images && source.split.test.unwrap().images);
}

#[test]
fn files_are_csv_and_names_are_built_in_sets_and_neither_are_images() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "d.csv", b"a,y,b\n1,0.5,2\n3,1.5,4\n");
    let options = LoadOptions {
        target: Some("y".to_string()),
        ..LoadOptions::default()
    };
    let source = load(path.to_str().unwrap(), &options).unwrap();
    assert_eq!(source.name, path.to_str().unwrap());
    assert_eq!(source.split.train.feature_names, ["a", "b"]);
    assert_eq!(source.split.train.target, Target::Values(vec![0.5, 1.5]));
    assert!(!source.split.train.images && source.split.test.is_none());

    let iris = load("IrIs", &LoadOptions::default()).unwrap();
    assert_eq!((iris.name.as_str(), iris.split.train.len()), ("iris", 150));
    assert!(!iris.split.train.images);
    let generated = LoadOptions {
        samples: Some(10),
        noise: Some(0.0),
        seed: 4,
        ..LoadOptions::default()
    };
    let xor = load("xor", &generated).unwrap();
    let expected = builtin(
        "xor",
        &SyntheticOptions {
            samples: Some(10),
            noise: Some(0.0),
            seed: 4,
        },
    )
    .unwrap();
    assert_eq!(xor.split.train, expected.train);
    assert!(!xor.split.train.images);
}

#[test]
fn a_target_column_is_refused_for_sets_that_bring_their_own() {
    let dir = idx_dir();
    let options = LoadOptions {
        target: Some("label".to_string()),
        ..LoadOptions::default()
    };
    let err = load(&spec(&dir), &options).unwrap_err();
    assert!(
        matches!(&err, LoadError::TargetWithIdx(s) if *s == spec(&dir)),
        "{err:?}"
    );
    let text = format!("target: cannot be used with the IDX directory '{}'", spec(&dir));
    assert_eq!(Error::from(err).to_string(), text);
    let err = load("Iris", &options).unwrap_err();
    assert!(
        matches!(&err, LoadError::TargetWithBuiltin(s) if s == "Iris"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "target: cannot be used with the built-in data set 'Iris'"
    );
    // Fashion-MNIST brings its labels too, installed or not.
    let err = load("fashion-mnist", &options).unwrap_err();
    assert!(
        matches!(&err, LoadError::TargetWithBuiltin(s) if s == "fashion-mnist"),
        "{err:?}"
    );
}

#[test]
fn unknown_names_list_the_built_in_sets_and_read_errors_pass_through() {
    let err = load("no-such-set", &LoadOptions::default()).unwrap_err();
    assert!(matches!(&err, LoadError::Unknown(s) if s == "no-such-set"), "{err:?}");
    assert_eq!(
        Error::from(err).to_string(),
        "'no-such-set': no such file, and not a built-in data set (iris, digits, mnist1d, xor, circles, \
         moons, spirals, gauss, fashion-mnist)"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "bad.csv", b"a,y\n1,0\nx,1\n");
    let err = load(path.to_str().unwrap(), &LoadOptions::default()).unwrap_err();
    let LoadError::Read(error @ Error::Data { line: 3, column: 1, .. }) = err else {
        panic!("{err:?}")
    };
    assert!(
        error
            .to_string()
            .ends_with("bad.csv:3:1: column 'a': 'x' is not a number"),
        "{error}"
    );
}

#[test]
fn a_generated_set_is_bounded_before_it_is_made() {
    let options = LoadOptions {
        samples: Some(usize::MAX / 4),
        ..LoadOptions::default()
    };
    let err = load("moons", &options).unwrap_err();
    assert!(matches!(err, LoadError::Read(Error::Memory { .. })), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("generating 4611686018427387903 samples needs about"),
        "{err}"
    );
}
