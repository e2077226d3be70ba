//! The built-in data sets: CSV files compiled into the library (`iris`, `digits`, `mnist1d`)
//! and the generated 2-D sets of [`super::synthetic`].

use std::path::PathBuf;

use super::csv::parse_csv;
use super::{synthetic, unify_classes, CsvOptions, Dataset, Split, SyntheticOptions};

/// Names accepted by [`builtin`].
pub const BUILTIN_NAMES: [&str; 8] = [
    "iris", "digits", "mnist1d", "xor", "circles", "moons", "spirals", "gauss",
];

const IRIS_CSV: &str = include_str!("../../data/iris.csv");
const DIGITS_CSV: &str = include_str!("../../data/digits.csv");
const MNIST1D_TRAIN_CSV: &str = include_str!("../../data/mnist1d_train.csv");
const MNIST1D_TEST_CSV: &str = include_str!("../../data/mnist1d_test.csv");

/// A built-in data set by name (see [`BUILTIN_NAMES`]); `None` if the name is not one.
pub fn builtin(name: &str, options: &SyntheticOptions) -> Option<Split> {
    let split = match name {
        "iris" => Split {
            train: builtin_csv("iris", IRIS_CSV),
            test: None,
        },
        "digits" => Split {
            train: builtin_csv("digits", DIGITS_CSV),
            test: None,
        },
        "mnist1d" => {
            let mut train = builtin_csv("mnist1d_train", MNIST1D_TRAIN_CSV);
            let mut test = builtin_csv("mnist1d_test", MNIST1D_TEST_CSV);
            unify_classes(&mut train, &mut test).expect("built-in MNIST-1D has class labels");
            Split {
                train,
                test: Some(test),
            }
        }
        _ => Split {
            train: synthetic::synthetic(name, options)?,
            test: None,
        },
    };
    Some(split)
}

/// Parses a CSV compiled into the binary.
fn builtin_csv(name: &str, text: &str) -> Dataset {
    let path = PathBuf::from(format!("<builtin {name}>"));
    parse_csv(text.as_bytes(), &path, &CsvOptions::default())
        .unwrap_or_else(|e| panic!("built-in data set is malformed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::tests::classes_of;
    use crate::data::Task;

    #[test]
    fn iris_builtin() {
        let split = builtin("iris", &SyntheticOptions::default_for_tests()).unwrap();
        let iris = split.train;
        assert!(split.test.is_none());
        assert_eq!((iris.len(), iris.n_features()), (150, 4));
        assert_eq!(iris.task(), Some(Task::Classification));
        let (labels, classes) = classes_of(&iris);
        assert_eq!(classes, ["0", "1", "2"]);
        for c in 0..3 {
            assert_eq!(labels.iter().filter(|&&l| l == c).count(), 50);
        }
        assert_eq!(iris.x.row(0), &[5.1, 3.5, 1.4, 0.2]);
        assert_eq!(iris.target_name, "species");
    }

    #[test]
    fn digits_builtin() {
        let digits = builtin("digits", &SyntheticOptions::default_for_tests()).unwrap().train;
        assert_eq!((digits.len(), digits.n_features()), (1797, 64));
        let (_, classes) = classes_of(&digits);
        assert_eq!(classes, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    }

    #[test]
    fn mnist1d_builtin() {
        let split = builtin("mnist1d", &SyntheticOptions::default_for_tests()).unwrap();
        let test = split.test.expect("mnist1d has a test set");
        assert_eq!((split.train.len(), split.train.n_features()), (4000, 40));
        assert_eq!((test.len(), test.n_features()), (1000, 40));
        assert_eq!(classes_of(&split.train).1.len(), 10);
        assert_eq!(classes_of(&split.train).1, classes_of(&test).1);
    }

    #[test]
    fn builtin_names_all_known_and_unknown_is_none() {
        let options = SyntheticOptions {
            samples: Some(20),
            ..SyntheticOptions::default_for_tests()
        };
        for name in BUILTIN_NAMES {
            assert!(builtin(name, &options).is_some(), "{name}");
        }
        assert!(builtin("nope", &options).is_none());
    }
}
