//! K-fold cross-validation: stratified folds for classes, one model trained per fold on the
//! other folds and scored on it, and each metric's mean and standard deviation over the folds.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::metrics::Report;
use crate::model::{fit, FitConfig};
use crate::{Dataset, Error, Result, Target};

/// One fold's outcome.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fold {
    /// 1-based fold number.
    pub fold: usize,
    /// Samples the fold's model was trained on (validation included).
    pub n_train: usize,
    /// Samples of the fold, scored.
    pub n_test: usize,
    /// The metrics of the fold's model on the fold.
    pub metrics: Report,
}

/// Mean and standard deviation of one metric over the folds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// The metric's name, as in [`Report`]'s fields (`accuracy`, `macro_f1`, `rmse`, …).
    pub metric: &'static str,
    /// Mean over the folds where it is defined.
    pub mean: f64,
    /// Population standard deviation over those folds (as numpy's `std`).
    pub std: f64,
    /// How many folds define it (R² is undefined on a fold with a constant target, ROC AUC on
    /// a fold with one class).
    pub folds: usize,
}

/// The outcome of [`cross_validate`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CrossValidation {
    /// One entry per fold.
    pub folds: Vec<Fold>,
    /// Each metric's mean and standard deviation over the folds.
    pub summary: Vec<Summary>,
}

/// The rows of each of `k` folds of `data`, each in increasing order: for classes, each
/// class's rows shuffled and dealt out in turn (so every fold holds each class's share, give
/// or take one); otherwise all rows shuffled and dealt out. The same seed gives the same folds.
///
/// # Errors
/// [`Error::Setting`] (`folds`) for fewer than 2 folds, more folds than samples, or, for
/// classes, more folds than the samples of the smallest class (naming it).
pub fn fold_indices(data: &Dataset, k: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
    let refuse = |message: String| {
        Err(Error::Setting {
            field: "folds",
            message,
        })
    };
    if k < 2 {
        return refuse(format!("must be at least 2, got {k}"));
    }
    if k > data.len() {
        return refuse(format!(
            "({k}) exceed the {} sample{}; each fold needs at least one",
            data.len(),
            if data.len() == 1 { "" } else { "s" }
        ));
    }
    let groups: Vec<Vec<usize>> = match &data.target {
        Target::Classes { labels, classes } => {
            let mut groups = vec![Vec::new(); classes.len()];
            for (i, &l) in labels.iter().enumerate() {
                groups[l as usize].push(i);
            }
            if let Some((c, g)) = classes
                .iter()
                .zip(&groups)
                .filter(|(_, g)| !g.is_empty())
                .min_by_key(|(_, g)| g.len())
                .filter(|(_, g)| g.len() < k)
            {
                return refuse(format!(
                    "({k}) exceed the {} sample{} of class '{c}', the smallest; stratified folds need one of each class in every fold",
                    g.len(),
                    if g.len() == 1 { "" } else { "s" }
                ));
            }
            groups
        }
        Target::Values(_) | Target::None => vec![(0..data.len()).collect()],
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut folds = vec![Vec::new(); k];
    // Continue dealing where the last class stopped, so that fold sizes differ by at most one.
    let mut next = 0;
    for mut group in groups {
        group.shuffle(&mut rng);
        for i in group {
            folds[next].push(i);
            next = (next + 1) % k;
        }
    }
    for fold in &mut folds {
        fold.sort_unstable();
    }
    Ok(folds)
}

/// Trains one model per fold (with `config`, on every other fold) and scores it on its fold;
/// `on_fold` sees each fold's outcome as it is done. [`FitConfig::sample_weights`], when set,
/// hold one weight per row of `data`.
///
/// # Errors
/// As [`fold_indices`] and [`fit`]; a fold error names the fold.
pub fn cross_validate(
    data: &Dataset,
    config: &FitConfig,
    k: usize,
    seed: u64,
    mut on_fold: impl FnMut(&Fold),
) -> Result<CrossValidation> {
    if let Some(w) = &config.sample_weights {
        if w.len() != data.len() {
            return Err(Error::config(format!(
                "{} sample weights for {} samples",
                w.len(),
                data.len()
            )));
        }
    }
    let folds = fold_indices(data, k, seed)?;
    let mut in_fold = vec![0; data.len()];
    for (f, rows) in folds.iter().enumerate() {
        for &i in rows {
            in_fold[i] = f;
        }
    }
    let mut outcomes = Vec::with_capacity(k);
    for (f, test_rows) in folds.iter().enumerate() {
        let train_rows: Vec<usize> = (0..data.len()).filter(|&i| in_fold[i] != f).collect();
        let (train, test) = (data.subset(&train_rows), data.subset(test_rows));
        let mut fold_config = config.clone();
        fold_config.sample_weights = config
            .sample_weights
            .as_ref()
            .map(|w| train_rows.iter().map(|&i| w[i]).collect());
        let in_fold = |e: Error| match e {
            Error::Config(m) => Error::Config(format!("fold {} of {k}: {m}", f + 1)),
            e => e,
        };
        let model = fit(&train, &fold_config).map_err(in_fold)?.model;
        let fold = Fold {
            fold: f + 1,
            n_train: train.len(),
            n_test: test.len(),
            metrics: model.report(&test).map_err(in_fold)?,
        };
        on_fold(&fold);
        outcomes.push(fold);
    }
    let summary = summarize(&outcomes);
    Ok(CrossValidation {
        folds: outcomes,
        summary,
    })
}

/// The scalar metrics of a report, by name; `None` where undefined.
pub fn scalars(report: &Report) -> Vec<(&'static str, Option<f64>)> {
    match report {
        Report::Classification(r) => vec![
            ("accuracy", Some(r.accuracy)),
            ("balanced_accuracy", Some(r.balanced_accuracy)),
            ("macro_f1", Some(r.macro_f1)),
            ("weighted_f1", Some(r.weighted_f1)),
            ("log_loss", r.log_loss),
            ("roc_auc", r.roc_auc),
        ],
        Report::Regression(r) => vec![("mae", Some(r.mae)), ("rmse", Some(r.rmse)), ("r2", r.r2)],
    }
}

fn summarize(folds: &[Fold]) -> Vec<Summary> {
    let Some(first) = folds.first() else {
        return Vec::new();
    };
    scalars(&first.metrics)
        .iter()
        .enumerate()
        .filter_map(|(m, &(metric, _))| {
            let values: Vec<f64> = folds.iter().filter_map(|f| scalars(&f.metrics)[m].1).collect();
            if values.is_empty() {
                return None;
            }
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
            Some(Summary {
                metric,
                mean,
                std,
                folds: values.len(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Matrix;

    fn classes(counts: &[usize]) -> Dataset {
        let labels: Vec<u32> = counts
            .iter()
            .enumerate()
            .flat_map(|(c, &n)| std::iter::repeat_n(c as u32, n))
            .collect();
        let n = labels.len();
        Dataset {
            x: Matrix::from_vec(n, 1, (0..n).map(|i| i as f32).collect()),
            feature_names: vec!["x".into()],
            target_name: "y".into(),
            target: Target::Classes {
                labels,
                classes: (0..counts.len()).map(|c| format!("c{c}")).collect(),
            },
            images: false,
        }
    }

    #[test]
    fn stratified_folds_partition_the_rows_and_keep_each_class_share() {
        let data = classes(&[50, 20, 5]);
        let folds = fold_indices(&data, 5, 3).unwrap();
        let mut all: Vec<usize> = folds.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..75).collect::<Vec<_>>());
        let Target::Classes { labels, .. } = &data.target else {
            unreachable!()
        };
        for fold in &folds {
            let count = |c| fold.iter().filter(|&&i| labels[i] == c).count();
            assert_eq!([count(0), count(1), count(2)], [10, 4, 1]);
        }
        assert_eq!(fold_indices(&data, 5, 3).unwrap(), folds);
        assert_ne!(fold_indices(&data, 5, 4).unwrap(), folds);
    }

    #[test]
    fn impossible_fold_counts_are_refused() {
        let message = |data: &Dataset, k| fold_indices(data, k, 0).unwrap_err().to_string();
        assert_eq!(
            message(&classes(&[50, 3]), 5),
            "folds (5) exceed the 3 samples of class 'c1', the smallest; stratified folds need one of each class in every fold"
        );
        assert_eq!(
            message(&classes(&[2, 2]), 5),
            "folds (5) exceed the 4 samples; each fold needs at least one"
        );
        assert_eq!(
            message(&classes(&[9, 1]), 2),
            "folds (2) exceed the 1 sample of class 'c1', the smallest; stratified folds need one of each class in every fold"
        );
        assert_eq!(message(&classes(&[5, 5]), 1), "folds must be at least 2, got 1");
    }

    #[test]
    fn the_summary_is_the_mean_and_population_std_of_the_folds() {
        use crate::metrics::RegressionReport;
        let fold = |rmse, r2| Fold {
            fold: 1,
            n_train: 1,
            n_test: 1,
            metrics: Report::Regression(RegressionReport { mae: 1.0, rmse, r2 }),
        };
        let summary = summarize(&[fold(1.0, Some(0.5)), fold(3.0, None)]);
        assert_eq!(
            summary,
            [
                Summary {
                    metric: "mae",
                    mean: 1.0,
                    std: 0.0,
                    folds: 2
                },
                Summary {
                    metric: "rmse",
                    mean: 2.0,
                    std: 1.0,
                    folds: 2
                },
                Summary {
                    metric: "r2",
                    mean: 0.5,
                    std: 0.0,
                    folds: 1
                },
            ]
        );
    }
}
