//! The full metrics report of `train`, `eval` and `cv`: a text table and JSON.

use actlab::metrics::{ClassificationReport, Report};

/// Prints `report` of the data called `what` (e.g. `test`) below a run's summary: one line of
/// summary metrics, for classes the per-class table, the confusion matrix, the notes on
/// conventions, and one line when accuracy is no better than the majority class.
pub fn print_report(what: &str, report: &Report) {
    match report {
        Report::Regression(r) => println!(
            "metrics  {what}: MAE {:.4}, RMSE {:.4}, R² {}",
            r.mae,
            r.rmse,
            r.r2.map_or_else(|| "undefined (constant target)".to_string(), |v| format!("{v:.4}"))
        ),
        Report::Classification(r) => print_classes(what, r),
    }
}

fn print_classes(what: &str, r: &ClassificationReport) {
    let mut line = format!(
        "metrics  {what}: balanced accuracy {:.4}, macro F1 {:.4}, weighted F1 {:.4}",
        r.balanced_accuracy, r.macro_f1, r.weighted_f1
    );
    if let Some(v) = r.log_loss {
        line += &format!(", log loss {v:.4}");
    }
    if let Some(v) = r.roc_auc {
        line += &format!(", ROC AUC {v:.4}");
    }
    println!("{line}");
    if r.no_better_than_majority() {
        println!(
            "baseline {what}: accuracy {:.4} is no better than always answering the majority class '{}' ({:.4})",
            r.accuracy, r.majority_class, r.majority_accuracy
        );
    }
    let width = r
        .per_class
        .iter()
        .map(|c| c.class.chars().count())
        .max()
        .unwrap_or(0)
        .max(5);
    println!("{:<width$}  precision     recall         f1    support", "class");
    for c in &r.per_class {
        println!(
            "{:<width$}  {:>9.4}  {:>9.4}  {:>9.4}  {:>9}",
            c.class, c.precision, c.recall, c.f1, c.support
        );
    }
    println!("confusion matrix ({what}; rows: true class, columns: predicted class)");
    let cell = r
        .per_class
        .iter()
        .map(|c| c.class.chars().count())
        .chain(r.confusion.iter().flatten().map(|n| n.to_string().len()))
        .max()
        .unwrap_or(1);
    let header: Vec<String> = r.per_class.iter().map(|c| format!("{:>cell$}", c.class)).collect();
    println!("{:<width$}  {}", "", header.join(" "));
    for (c, row) in r.per_class.iter().zip(&r.confusion) {
        let cells: Vec<String> = row.iter().map(|n| format!("{n:>cell$}")).collect();
        println!("{:<width$}  {}", c.class, cells.join(" "));
    }
    for note in &r.notes {
        println!("note     {note}");
    }
}

/// The report as JSON (every number finite).
pub fn report_json(report: &Report) -> serde_json::Value {
    serde_json::to_value(report).expect("reports serialize")
}
