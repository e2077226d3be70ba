//! Imbalanced data: class weights, sample weights read from a column, and the decision
//! threshold of a binary classifier.
//!
//! Weights multiply each sample's loss and its gradient in training (see
//! [`crate::Loss::weighted_loss_and_grad`]); a sample's weight is its class's weight times its
//! own sample weight. `balanced` class weights are `n / (k · n_c)` for `n` training samples in
//! `k` classes, `n_c` of class `c` (as scikit-learn's `class_weight="balanced"`): they average
//! 1 over the samples, which keeps the loss on its unweighted scale.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::Serialize;

use crate::{Dataset, Error, Matrix, Result};

/// How classes are weighted in training.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassWeight {
    /// Inversely to their frequency in the training data: `n / (k · n_c)`.
    Balanced,
    /// A weight per class label; classes not named weigh 1.
    Given(Vec<(String, f32)>),
}

impl FromStr for ClassWeight {
    type Err = Error;
    /// `balanced`, or `label=weight` pairs separated by commas: `yes=5,no=1`.
    fn from_str(s: &str) -> Result<Self> {
        if s.eq_ignore_ascii_case("balanced") {
            return Ok(ClassWeight::Balanced);
        }
        let bad = |m: String| Error::config(format!("class weights '{s}': {m}; write balanced or label=weight,…"));
        let mut pairs: Vec<(String, f32)> = Vec::new();
        for part in s.split(',') {
            let Some((label, weight)) = part.rsplit_once('=') else {
                return Err(bad(format!("'{part}' is not label=weight")));
            };
            let w: f32 = weight
                .trim()
                .parse()
                .map_err(|_| bad(format!("the weight '{weight}' of '{label}' is not a number")))?;
            if !(w.is_finite() && w >= 0.0) {
                return Err(bad(format!(
                    "the weight of '{label}' is {w}; it must be finite and at least 0"
                )));
            }
            if pairs.iter().any(|(l, _)| l == label) {
                return Err(bad(format!("'{label}' is given twice")));
            }
            pairs.push((label.to_string(), w));
        }
        Ok(ClassWeight::Given(pairs))
    }
}

impl fmt::Display for ClassWeight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClassWeight::Balanced => f.write_str("balanced"),
            ClassWeight::Given(pairs) => {
                let parts: Vec<String> = pairs.iter().map(|(l, w)| format!("{l}={w}")).collect();
                f.write_str(&parts.join(","))
            }
        }
    }
}

/// The weight of each class (in `classes` order) for training samples of class indices `labels`.
///
/// # Errors
/// [`Error::Setting`] (`class_weight`) naming a label that is not one of `classes`.
pub fn class_weights(spec: &ClassWeight, classes: &[String], labels: &[u32]) -> Result<Vec<f32>> {
    match spec {
        ClassWeight::Balanced => {
            let mut counts = vec![0usize; classes.len()];
            for &l in labels {
                counts[l as usize] += 1;
            }
            let (n, k) = (labels.len() as f64, classes.len() as f64);
            Ok(counts
                .iter()
                .map(|&c| if c == 0 { 0.0 } else { (n / (k * c as f64)) as f32 })
                .collect())
        }
        ClassWeight::Given(pairs) => {
            let mut weights = vec![1.0; classes.len()];
            for (label, w) in pairs {
                let Some(i) = classes.iter().position(|c| c == label) else {
                    return Err(Error::Setting {
                        field: "class_weight",
                        message: format!(
                            "names the class '{label}', which the training data does not have (its classes: {})",
                            classes.join(", ")
                        ),
                    });
                };
                weights[i] = *w;
            }
            Ok(weights)
        }
    }
}

/// Checks the column `column` of the CSV file `path` (header row first) as sample weights:
/// every cell a finite number at least 0, and not all 0. The file is split by `delimiter`, or
/// by the one [`crate::data::table::sniff_delimiter`] finds in the header, as the table reader
/// splits it.
///
/// # Errors
/// [`Error::Data`] naming the file, line and column of the first cell that is missing, not a
/// number, negative or not finite; the column missing from the header; every weight 0.
pub fn check_weight_column(path: &Path, column: &str, delimiter: Option<u8>) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let data = |line: usize, col: usize, message: String| Error::Data {
        path: path.to_path_buf(),
        line,
        column: col,
        message,
    };
    let delimiter = match delimiter {
        Some(d) => d,
        None => {
            let mut header = Vec::new();
            std::io::BufRead::read_until(
                &mut std::io::BufReader::new(std::fs::File::open(path).map_err(io)?),
                b'\n',
                &mut header,
            )
            .map_err(io)?;
            crate::data::table::sniff_delimiter(&header)
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(std::io::BufReader::new(std::fs::File::open(path).map_err(io)?));
    let index = reader
        .headers()
        .map_err(|e| data(1, 0, e.to_string()))?
        .iter()
        .position(|f| f.trim() == column)
        .ok_or_else(|| data(1, 0, format!("the header has no sample-weight column '{column}'")))?;
    let mut any_positive = false;
    for record in reader.records() {
        let record = record.map_err(|e| data(e.position().map_or(0, |p| p.line() as usize), 0, e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let cell = record.get(index).unwrap_or("").trim();
        let what = |problem: &str| data(line, index + 1, format!("sample weight '{column}' {problem}"));
        if cell.is_empty() {
            return Err(what("is missing"));
        }
        let w: f64 = cell.parse().map_err(|_| what(&format!("'{cell}' is not a number")))?;
        if !w.is_finite() || w as f32 == f32::INFINITY {
            return Err(what(&format!("{cell} is not a finite number")));
        }
        if w < 0.0 {
            return Err(what(&format!("{cell} is negative; weights must be at least 0")));
        }
        any_positive |= w > 0.0;
    }
    if !any_positive {
        return Err(data(
            0,
            index + 1,
            format!("every sample weight in '{column}' is 0: nothing to train on"),
        ));
    }
    Ok(())
}

/// A short text that identifies a list of weights: its length and a 64-bit FNV-1a hash of the
/// values' bits (any change to a weight changes it, but for the rarest collisions).
pub fn digest(weights: &[f32]) -> String {
    let hash = weights
        .iter()
        .flat_map(|w| w.to_bits().to_le_bytes())
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("{} weights, FNV-1a {hash:016x}", weights.len())
}

/// Removes the feature column `name` from `data` and returns its values, or `None` when
/// `data` has no such feature.
pub fn take_feature(data: &mut Dataset, name: &str) -> Option<Vec<f32>> {
    let c = data.feature_names.iter().position(|n| n == name)?;
    let cols = data.n_features();
    let mut values = Vec::with_capacity(data.len());
    let mut rest = Vec::with_capacity(data.len() * (cols - 1));
    for row in data.x.iter_rows() {
        values.push(row[c]);
        rest.extend(row.iter().enumerate().filter(|&(i, _)| i != c).map(|(_, &v)| v));
    }
    data.x = Matrix::from_vec(data.len(), cols - 1, rest);
    data.feature_names.remove(c);
    Some(values)
}

/// The decision threshold of a binary classifier.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Threshold {
    /// Predict the second class when its probability is at least this.
    Value(f32),
    /// The threshold that maximizes the second class's F1 on the validation data.
    Auto,
}

impl FromStr for Threshold {
    type Err = Error;
    /// `auto` or a number in `[0, 1]`.
    fn from_str(s: &str) -> Result<Self> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Threshold::Auto);
        }
        match s.parse::<f32>() {
            Ok(t) if (0.0..=1.0).contains(&t) => Ok(Threshold::Value(t)),
            _ => Err(Error::config(format!(
                "threshold '{s}' must be auto or a number from 0 to 1"
            ))),
        }
    }
}

/// The threshold on `scores` (the probability of the positive class) that maximizes the F1
/// of the positive class against `positive`: the best of the distinct scores (predicting
/// positive at or above it), ties going to the one closest to 0.5. 0.5 when there are no
/// positives (every threshold gives F1 0).
pub fn best_threshold(scores: &[f32], positive: &[bool]) -> f32 {
    let total_pos = positive.iter().filter(|&&p| p).count();
    if total_pos == 0 {
        return 0.5;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    // Highest score first: lowering the threshold past each distinct score adds its samples.
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut predicted) = (0usize, 0usize);
    let mut best = (0.0f64, 0.5f32);
    let mut i = 0;
    while i < order.len() {
        let s = scores[order[i]];
        while i < order.len() && scores[order[i]] == s {
            tp += usize::from(positive[order[i]]);
            predicted += 1;
            i += 1;
        }
        let f1 = 2.0 * tp as f64 / (predicted + total_pos) as f64;
        let closer = (s - 0.5).abs() < (best.1 - 0.5).abs();
        if f1 > best.0 || (f1 == best.0 && closer) {
            best = (f1, s);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn class_weights_balance_or_follow_the_labels_named() {
        let classes = strings(&["no", "yes"]);
        // 6 samples, 4 of "no", 2 of "yes": 6 / (2·4) and 6 / (2·2).
        let labels = [0, 0, 1, 0, 1, 0];
        assert_eq!(
            class_weights(&ClassWeight::Balanced, &classes, &labels).unwrap(),
            [0.75, 1.5]
        );
        let given: ClassWeight = "yes=5".parse().unwrap();
        assert_eq!(class_weights(&given, &classes, &labels).unwrap(), [1.0, 5.0]);
        let unknown: ClassWeight = "maybe=2,yes=1".parse().unwrap();
        let message = class_weights(&unknown, &classes, &labels).unwrap_err().to_string();
        assert_eq!(
            message,
            "class_weight names the class 'maybe', which the training data does not have (its classes: no, yes)"
        );
        assert_eq!("a=2,b=0.5".parse::<ClassWeight>().unwrap().to_string(), "a=2,b=0.5");
        for bad in ["a", "a=x", "a=-1", "a=inf", "a=1,a=2"] {
            assert!(bad.parse::<ClassWeight>().is_err(), "{bad}");
        }
    }

    #[test]
    fn weight_columns_are_checked_cell_by_cell() {
        let dir = tempfile::tempdir().unwrap();
        let check = |text: &str| {
            let path = dir.path().join("w.csv");
            std::fs::write(&path, text).unwrap();
            check_weight_column(&path, "w", None).map_err(|e| e.to_string().replace(&*path.to_string_lossy(), "F"))
        };
        assert_eq!(check("x,w,y\n1,2,a\n2,0,b\n"), Ok(()));
        assert_eq!(check("x;w;y\n1;2;a\n"), Ok(()));
        assert_eq!(
            check("x,w,y\n1,2,a\n2,-1,b\n"),
            Err("F:3:2: sample weight 'w' -1 is negative; weights must be at least 0".into())
        );
        assert_eq!(
            check("x,w,y\n1,,a\n"),
            Err("F:2:2: sample weight 'w' is missing".into())
        );
        assert_eq!(
            check("x,w,y\n1,NaN,a\n"),
            Err("F:2:2: sample weight 'w' NaN is not a finite number".into())
        );
        assert_eq!(
            check("x,w,y\n1,1e39,a\n"),
            Err("F:2:2: sample weight 'w' 1e39 is not a finite number".into())
        );
        assert_eq!(
            check("x,w,y\n1,heavy,a\n"),
            Err("F:2:2: sample weight 'w' 'heavy' is not a number".into())
        );
        assert_eq!(
            check("x,w,y\n1,0,a\n2,0,b\n"),
            Err("F: every sample weight in 'w' is 0: nothing to train on".into())
        );
        assert_eq!(
            check("x,v,y\n1,0,a\n"),
            Err("F:1: the header has no sample-weight column 'w'".into())
        );
    }

    #[test]
    fn take_feature_removes_one_column() {
        let mut data = Dataset {
            x: Matrix::from_vec(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            feature_names: strings(&["a", "w", "b"]),
            target_name: String::new(),
            target: crate::Target::None,
            images: false,
        };
        assert_eq!(take_feature(&mut data, "w"), Some(vec![2.0, 5.0]));
        assert_eq!(data.x.as_slice(), [1.0, 3.0, 4.0, 6.0]);
        assert_eq!(data.feature_names, ["a", "b"]);
        assert_eq!(take_feature(&mut data, "w"), None);
    }

    #[test]
    fn a_digest_tells_weights_apart() {
        // FNV-1a of no bytes is its offset basis.
        assert_eq!(digest(&[]), "0 weights, FNV-1a cbf29ce484222325");
        assert_ne!(digest(&[1.0, 2.0]), digest(&[2.0, 1.0]));
        assert_eq!(digest(&[1.0, 2.0]), digest(&[1.0, 2.0]));
    }

    #[test]
    fn the_best_threshold_maximizes_f1() {
        // Scores 0.9 (+), 0.8 (-), 0.3 (+), 0.2 (-), 0.1 (-): at 0.9 F1 = 2/3, at 0.8 F1 = 1/2,
        // at 0.3 F1 = 4/5, at 0.2 F1 = 2/3, at 0.1 F1 = 4/7.
        let scores = [0.2, 0.9, 0.3, 0.1, 0.8];
        let positive = [false, true, true, false, false];
        assert_eq!(best_threshold(&scores, &positive), 0.3);
        // All equal: one candidate.
        assert_eq!(best_threshold(&[0.4; 3], &[true, false, true]), 0.4);
        assert_eq!(best_threshold(&[0.4, 0.7], &[false, false]), 0.5);
        assert_eq!("auto".parse::<Threshold>().unwrap(), Threshold::Auto);
        assert_eq!("0.3".parse::<Threshold>().unwrap(), Threshold::Value(0.3));
        assert!("1.5".parse::<Threshold>().is_err());
    }
}
