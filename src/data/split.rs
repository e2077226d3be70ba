//! Train/test splits.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{Dataset, Target};

/// Splits into train and test parts, keeping each class's share (random for regression).
///
/// Each class (or, without classes, the whole set) contributes `round(n · test_fraction)`
/// samples to the test part, at least one and at most `n - 1` when it has two or more samples
/// and `test_fraction` lies strictly between 0 and 1. Both parts keep the original row order
/// and the class list. The same seed gives the same split.
pub fn stratified_split(data: &Dataset, test_fraction: f32, seed: u64) -> (Dataset, Dataset) {
    let (train, test) = stratified_indices(&data.target, data.len(), test_fraction, seed);
    (data.subset(&train), data.subset(&test))
}

/// The rows of the train and test parts that [`stratified_split`] makes of `n` samples with
/// this target, each in ascending order.
pub fn stratified_indices(target: &Target, n: usize, test_fraction: f32, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let groups: Vec<Vec<usize>> = match target {
        Target::Classes { labels, classes } => {
            let mut groups = vec![Vec::new(); classes.len()];
            for (i, &label) in labels.iter().enumerate() {
                groups[label as usize].push(i);
            }
            groups
        }
        Target::Values(_) | Target::None => vec![(0..n).collect()],
    };
    let mut train = Vec::with_capacity(n);
    let mut test = Vec::new();
    for mut group in groups {
        group.shuffle(&mut rng);
        let n_test = test_count(group.len(), test_fraction);
        test.extend_from_slice(&group[..n_test]);
        train.extend_from_slice(&group[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

/// How many of `n` samples go to the test part.
fn test_count(n: usize, fraction: f32) -> usize {
    let fraction = f64::from(fraction);
    if fraction.is_nan() || fraction <= 0.0 {
        return 0;
    }
    if fraction >= 1.0 {
        return n;
    }
    let count = (n as f64 * fraction).round() as usize;
    if n >= 2 {
        count.clamp(1, n - 1)
    } else {
        count.min(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::tests::{classes_of, count, labelled, strings};

    #[test]
    fn stratified_split_keeps_proportions() {
        let data = labelled(&[100, 50, 10, 2]);
        let (train, test) = stratified_split(&data, 0.2, 7);
        assert_eq!([0, 1, 2, 3].map(|c| count(&test, c)), [20, 10, 2, 1]);
        assert_eq!([0, 1, 2, 3].map(|c| count(&train, c)), [80, 40, 8, 1]);
        assert_eq!(classes_of(&test).1, ["0", "1", "2", "3"]);
        // Every sample in exactly one part.
        let mut all: Vec<f32> = train.x.as_slice().iter().chain(test.x.as_slice()).copied().collect();
        all.sort_by(f32::total_cmp);
        assert_eq!(all, (0..162).map(|i| i as f32).collect::<Vec<_>>());
        // Labels still match the rows.
        for part in [&train, &test] {
            for (row, &label) in part.x.iter_rows().zip(classes_of(part).0) {
                assert_eq!(
                    data.subset(&[row[0] as usize]).target,
                    Target::Classes {
                        labels: vec![label],
                        classes: strings(&["0", "1", "2", "3"]),
                    }
                );
            }
        }
    }

    #[test]
    fn stratified_split_is_seeded() {
        let data = labelled(&[60, 40]);
        let a = stratified_split(&data, 0.25, 1);
        let b = stratified_split(&data, 0.25, 1);
        let c = stratified_split(&data, 0.25, 2);
        assert_eq!(a.1, b.1);
        assert_eq!(a.0, b.0);
        assert_ne!(a.1.x, c.1.x);
    }

    #[test]
    fn regression_split_is_random_and_complete() {
        let data = Dataset {
            target: Target::Values((0..50).map(|i| i as f32).collect()),
            ..labelled(&[50])
        };
        let (train, test) = stratified_split(&data, 0.3, 3);
        assert_eq!((train.len(), test.len()), (35, 15));
        let Target::Values(values) = &test.target else { panic!() };
        assert_eq!(values.as_slice(), test.x.as_slice());
        assert_ne!(test.x.as_slice(), &(0..15).map(|i| i as f32).collect::<Vec<_>>()[..]);
        let (_, none) = stratified_split(&data, 0.0, 3);
        assert!(none.is_empty());
    }
}
