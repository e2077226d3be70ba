//! Generated 2-D binary classification sets: `xor`, `circles`, `moons`, `spirals`, `gauss`.

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::{Dataset, SyntheticOptions, Target};
use crate::Matrix;

/// Default number of samples of the generated sets.
const DEFAULT_SAMPLES: usize = 400;

/// A generated 2-D binary classification set, or `None` for an unknown name.
///
/// Both classes get half the samples (class 0 one more when the count is odd); rows are
/// shuffled so that the classes interleave.
pub(super) fn synthetic(name: &str, options: &SyntheticOptions) -> Option<Dataset> {
    // Default noise, and a random noise-free point of class `c`.
    type Generator = fn(&mut ChaCha8Rng, u32) -> [f32; 2];
    let (default_noise, generate): (f32, Generator) = match name {
        "xor" => (0.05, xor_point),
        "circles" => (0.05, circle_point),
        "moons" => (0.1, moon_point),
        "spirals" => (0.05, spiral_point),
        "gauss" => (0.5, |_, c| if c == 0 { [-1.0, -1.0] } else { [1.0, 1.0] }),
        _ => return None,
    };
    let n = options.samples.unwrap_or(DEFAULT_SAMPLES);
    let noise = options.noise.unwrap_or(default_noise);
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut labels: Vec<u32> = (0..n).map(|i| u32::from(i >= n.div_ceil(2))).collect();
    labels.shuffle(&mut rng);
    let mut data = Vec::with_capacity(2 * n);
    for &c in &labels {
        let [x, y] = generate(&mut rng, c);
        let dx: f32 = StandardNormal.sample(&mut rng);
        let dy: f32 = StandardNormal.sample(&mut rng);
        data.extend([x + noise * dx, y + noise * dy]);
    }
    Some(Dataset {
        x: Matrix::from_vec(n, 2, data),
        feature_names: vec!["x".to_string(), "y".to_string()],
        target_name: "label".to_string(),
        target: Target::Classes {
            labels,
            classes: vec!["0".to_string(), "1".to_string()],
        },
        images: false,
    })
}

/// Uniform in the quadrants of class `c` (1 when the signs of x and y differ), at least
/// `XOR_MARGIN` from both axes so that the noise-free set is separable with a margin.
fn xor_point(rng: &mut ChaCha8Rng, c: u32) -> [f32; 2] {
    const XOR_MARGIN: f32 = 0.1;
    let mut coordinate = || {
        let magnitude: f32 = rng.random_range(XOR_MARGIN..1.0);
        if rng.random_range(0..2) == 0 {
            magnitude
        } else {
            -magnitude
        }
    };
    let x = coordinate();
    let y = coordinate().abs();
    let same_sign = if x > 0.0 { y } else { -y };
    [x, if c == 0 { same_sign } else { -same_sign }]
}

/// On the outer circle (radius 1) for class 0, the inner one (radius 0.5) for class 1.
fn circle_point(rng: &mut ChaCha8Rng, c: u32) -> [f32; 2] {
    let angle = rng.random_range(0.0..std::f32::consts::TAU);
    let radius = if c == 0 { 1.0 } else { 0.5 };
    [radius * angle.cos(), radius * angle.sin()]
}

/// On the upper moon for class 0, the lower, shifted one for class 1 (as scikit-learn).
fn moon_point(rng: &mut ChaCha8Rng, c: u32) -> [f32; 2] {
    let angle = rng.random_range(0.0..std::f32::consts::PI);
    if c == 0 {
        [angle.cos(), angle.sin()]
    } else {
        [1.0 - angle.cos(), 0.5 - angle.sin()]
    }
}

/// On arm `c` of two interleaved spirals of 1.5 turns, radius growing from 0 to 1.
fn spiral_point(rng: &mut ChaCha8Rng, c: u32) -> [f32; 2] {
    let t: f32 = rng.random_range(0.0..1.0);
    let angle = 3.0 * std::f32::consts::PI * t + std::f32::consts::PI * c as f32;
    [t * angle.cos(), t * angle.sin()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::builtin;
    use crate::data::tests::{classes_of, count};

    #[test]
    fn synthetic_sets() {
        for name in ["xor", "circles", "moons", "spirals", "gauss"] {
            let options = |samples, seed| SyntheticOptions {
                samples,
                noise: None,
                seed,
            };
            let data = builtin(name, &options(None, 1)).unwrap().train;
            assert_eq!(data.len(), 400, "{name}");
            let data = builtin(name, &options(Some(301), 1)).unwrap().train;
            assert_eq!((data.len(), data.n_features()), (301, 2), "{name}");
            assert_eq!(data.feature_names, ["x", "y"]);
            assert_eq!(data.target_name, "label");
            assert_eq!(classes_of(&data).1, ["0", "1"]);
            assert_eq!((count(&data, 0), count(&data, 1)), (151, 150), "{name}");
            // Interleaved, not one class after the other.
            assert!(classes_of(&data).0[..100].contains(&1), "{name}");
            assert!(data.x.as_slice().iter().all(|v| v.is_finite() && v.abs() < 5.0));
            let again = builtin(name, &options(Some(301), 1)).unwrap().train;
            assert_eq!(data, again, "{name}");
            let other = builtin(name, &options(Some(301), 2)).unwrap().train;
            assert_ne!(data.x, other.x, "{name}");
        }
    }

    #[test]
    fn synthetic_geometry() {
        let exact = |name| {
            builtin(
                name,
                &SyntheticOptions {
                    samples: Some(200),
                    noise: Some(0.0),
                    seed: 3,
                },
            )
            .unwrap()
            .train
        };
        let xor = exact("xor");
        for (r, &l) in xor.x.iter_rows().zip(classes_of(&xor).0) {
            assert_eq!(u32::from((r[0] > 0.0) != (r[1] > 0.0)), l);
        }
        let circles = exact("circles");
        for (r, &l) in circles.x.iter_rows().zip(classes_of(&circles).0) {
            let radius = r[0].hypot(r[1]);
            assert!((radius - if l == 0 { 1.0 } else { 0.5 }).abs() < 1e-5);
        }
        let gauss = exact("gauss");
        for (r, &l) in gauss.x.iter_rows().zip(classes_of(&gauss).0) {
            assert_eq!(r[0], if l == 0 { -1.0 } else { 1.0 });
        }
        let noisy = builtin(
            "gauss",
            &SyntheticOptions {
                samples: Some(2000),
                noise: Some(0.5),
                seed: 3,
            },
        )
        .unwrap()
        .train;
        let mean_x = noisy.x.iter_rows().map(|r| f64::from(r[0])).sum::<f64>() / 2000.0;
        assert!(mean_x.abs() < 0.1, "{mean_x}");
    }
}
