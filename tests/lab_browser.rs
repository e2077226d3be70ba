//! `actlab lab` driven in headless Chromium through chromedriver: load the page, play, see
//! the epoch counter and the loss move, set a weight by clicking its link, switch an
//! activation, open a preset in A/B mode, upload a CSV, download the model and the data and
//! load them with `actlab predict`, and check that the `actlab train` command the page gives
//! (with L1 regularisation) reproduces the run. It measures the redraws and epochs per second
//! of Playground's default set-up.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them):
//! `cargo test --test lab_browser -- --ignored --nocapture`. With `ACTLAB_SCREENSHOTS=DIR` it
//! saves the README's screenshots there.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `actlab lab --port 0`, and the URL it prints.
fn start_lab() -> (Killed, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_actlab"))
        .args(["lab", "--port", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("a URL")
        .to_string();
    (Killed(child), url)
}

async fn start_browser(downloads: &Path) -> (Killed, Client) {
    let port = free_port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian package chromium-driver)");
    let driver = Killed(driver);
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1600,1000"],
            "prefs": {
                "download.default_directory": downloads,
                "download.prompt_for_download": false,
                "profile.default_content_setting_values.automatic_downloads": 1,
            },
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let start = Instant::now();
    loop {
        match ClientBuilder::new(connector.clone())
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => return (driver, client),
            Err(e) if start.elapsed() > Duration::from_secs(20) => panic!("chromedriver: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

async fn text(client: &Client, id: &str) -> String {
    client.find(Locator::Id(id)).await.unwrap().text().await.unwrap()
}

/// Waits up to 60 s (the machine may be busy) for `check` to hold of the text of element `id`, and returns that text.
async fn wait_text(client: &Client, id: &str, check: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let t = text(client, id).await;
        if check(&t) {
            return t;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "#{id} stayed {t:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn epoch(client: &Client) -> u64 {
    text(client, "epoch").await.parse().unwrap()
}

async fn screenshot(client: &Client, name: &str) {
    if let Some(dir) = std::env::var_os("ACTLAB_SCREENSHOTS") {
        let png = client.screenshot().await.unwrap();
        std::fs::write(PathBuf::from(dir).join(name), png).unwrap();
    }
}

async fn select(client: &Client, css: &str, value: &str) {
    let element = client.find(Locator::Css(css)).await.unwrap();
    element.select_by_value(value).await.unwrap();
}

async fn wait_file(path: &Path) -> Vec<u8> {
    let start = Instant::now();
    loop {
        if let Ok(bytes) = std::fs::read(path) {
            if !bytes.is_empty() {
                return bytes;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{} was not downloaded",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn actlab(args: &[&str], dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_actlab"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "actlab {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromium-driver; .ci/run installs them"]
async fn the_lab_in_chromium() {
    let downloads = tempfile::tempdir().unwrap();
    let (_lab, url) = start_lab();
    let (_driver, client) = start_browser(downloads.path()).await;
    client.goto(&url).await.unwrap();

    // Loaded: the first frame of the untrained network.
    wait_text(&client, "losses", |t| t.contains("training loss")).await;
    assert_eq!(epoch(&client).await, 0);
    let loss_before = text(&client, "losses").await;

    // Play: the epoch counter and the loss move; measure the speed over a few seconds.
    client.find(Locator::Id("play")).await.unwrap().click().await.unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (fps, eps, epf) = (
        text(&client, "fps").await,
        text(&client, "eps").await,
        text(&client, "epf").await,
    );
    println!("Playground's default set-up: {fps} redraws/s, {eps} epochs/s, {epf} epochs/frame");
    let first = epoch(&client).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(epoch(&client).await > first && first > 0);
    assert_ne!(text(&client, "losses").await, loss_before);
    // The target is the display's 60 redraws/s with at least 10 epochs each; a busy machine
    // slows the redraws, so only a frozen page fails here (the README gives the measurement).
    assert!(fps.parse::<f64>().unwrap() >= 10.0, "{fps} redraws/s");
    assert!(epf.parse::<f64>().unwrap() >= 10.0, "{epf} epochs/frame");
    screenshot(&client, "lab.png").await;

    // Pause, then click the link from x₁ to the first hidden neuron (the middle of its curve)
    // and set its weight, applied with Enter: the server's network holds the new weight, and
    // its output changes.
    client.find(Locator::Id("play")).await.unwrap().click().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let losses = text(&client, "losses").await;
    let middle = client
        .execute(
            "const a = document.querySelector('#columns .input').getBoundingClientRect();
             const b = document.getElementById('n-0-0').getBoundingClientRect();
             return [(a.right + b.left) / 2, (a.top + a.bottom + b.top + b.bottom) / 4];",
            Vec::new(),
        )
        .await
        .unwrap();
    let (x, y) = (middle[0].as_f64().unwrap(), middle[1].as_f64().unwrap());
    let click = MouseActions::new("mouse".into())
        .then(PointerAction::MoveTo { duration: None, x, y })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    client.perform_actions(click).await.unwrap();
    wait_text(&client, "editor", |t| {
        t.contains("Weight from x₁ to neuron 1 of hidden layer 1")
    })
    .await;
    let weight = client.find(Locator::Id("link-weight")).await.unwrap();
    weight.clear().await.unwrap();
    weight.send_keys("2.5\n").await.unwrap();
    wait_text(&client, "losses", |t| t != losses).await;
    client
        .find(Locator::Id("download-model"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let model = downloads.path().join("lab.safetensors");
    wait_file(&model).await;
    let edited = actlab::model_io::load(&model).unwrap();
    assert_eq!(edited.mlp.layer_params(0).weight[0], 2.5);
    std::fs::remove_file(&model).unwrap();
    screenshot(&client, "lab-link.png").await;

    // Switch the first layer's activation: a new network starts at epoch 0.
    select(&client, "select.activation", "relu").await;
    wait_text(&client, "gradients", |t| t.contains("relu")).await;
    wait_text(&client, "epoch", |t| t == "0").await;

    // A function with a parameter: leaky ReLU with a slope of 0.2.
    select(&client, "select.activation", "leaky_relu").await;
    wait_text(&client, "gradients", |t| t.contains("leaky_relu")).await;
    let parameter = client.find(Locator::Css("input.parameter")).await.unwrap();
    parameter.send_keys("0.2\n").await.unwrap();
    client.find(Locator::Id("epoch")).await.unwrap().click().await.unwrap();
    wait_text(&client, "gradients", |t| t.contains("leaky_relu:0.2")).await;

    // Several classes: a box per class probability beside the most probable class.
    select(&client, "#preset", "softmax").await;
    wait_text(&client, "source", |t| t.contains("classes 0, 1, 2, 3, 4")).await;
    client.find(Locator::Id("n-class-4")).await.unwrap();
    screenshot(&client, "lab-classes.png").await;

    // Click a neuron and set one of its weights: the network is redrawn with it, and the
    // command says it no longer reproduces the run.
    client.find(Locator::Id("n-0-1")).await.unwrap().click().await.unwrap();
    let weight = client.find(Locator::Css("#editor input[data-from='0']")).await.unwrap();
    weight.clear().await.unwrap();
    weight.send_keys("3\n").await.unwrap();
    client.find(Locator::Id("epoch")).await.unwrap().click().await.unwrap();
    wait_text(&client, "editor", |t| t.contains("Hidden layer 1, neuron 2")).await;
    let start = Instant::now();
    while !client
        .find(Locator::Id("command"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap()
        .starts_with('#')
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the edit did not reach the command"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A preset in A/B mode: both networks train in lockstep.
    select(&client, "#preset", "vanishing").await;
    wait_text(&client, "losses", |t| t.contains("B relu")).await;
    assert!(text(&client, "preset-note").await.contains("Six sigmoid layers"));
    client.find(Locator::Id("play")).await.unwrap().click().await.unwrap();
    wait_text(&client, "epoch", |t| t.parse::<u64>().unwrap() >= 20).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (fps, epf) = (text(&client, "fps").await, text(&client, "epf").await);
    println!("A/B, two networks of 6 hidden layers of 8: {fps} redraws/s, {epf} epochs/frame");
    client.find(Locator::Id("play")).await.unwrap().click().await.unwrap();
    let gradients = text(&client, "gradients").await;
    assert!(gradients.contains("A: ") && gradients.contains("B: "), "{gradients}");
    screenshot(&client, "lab-ab.png").await;

    // A bad CSV gets the CLI's message, naming line and column.
    let bad = downloads.path().join("bad.csv");
    std::fs::write(&bad, "u,v,side\n1,2,left\n3,x,right\n").unwrap();
    let upload = client.find(Locator::Id("upload")).await.unwrap();
    upload.send_keys(bad.to_str().unwrap()).await.unwrap();
    wait_text(&client, "error", |t| t.starts_with("the uploaded CSV:3:2: column 'v'")).await;

    // Upload a CSV of two features: a boundary view over its plane.
    let mut csv = String::from("u,v,side\n");
    for i in 0..200 {
        let (u, v) = ((i % 20) as f32 - 10.0, (i / 20) as f32 * 3.0);
        csv.push_str(&format!(
            "{u},{v},{}\n",
            if u + v / 3.0 > 2.0 { "right" } else { "left" }
        ));
    }
    let upload = downloads.path().join("upload.csv");
    std::fs::write(&upload, csv).unwrap();
    client
        .find(Locator::Id("upload"))
        .await
        .unwrap()
        .send_keys(upload.to_str().unwrap())
        .await
        .unwrap();
    wait_text(&client, "source", |t| {
        t.starts_with("Your CSV: 200 rows (") && t.contains("classes left, right")
    })
    .await;

    // Back to the default set-up; train a while, then take the model and data away.
    client
        .find(Locator::Id("forget-upload"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    select(&client, "#preset", "tanh_sigmoid").await;
    client.find(Locator::Id("ab")).await.unwrap().click().await.unwrap();
    wait_text(&client, "losses", |t| !t.contains("B ")).await;
    select(&client, "#l1", "0.001").await;
    wait_text(&client, "epoch", |t| t == "0").await;
    client.find(Locator::Id("play")).await.unwrap().click().await.unwrap();
    wait_text(&client, "epoch", |t| t.parse::<u64>().unwrap() >= 30).await;
    client.find(Locator::Id("play")).await.unwrap().click().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let epochs = epoch(&client).await;
    let command = client
        .find(Locator::Id("command"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(command.contains(&format!("--epochs {epochs} ")), "{command}");
    assert!(command.contains(" --l1 0.001 "), "{command}");
    let dir = downloads.path();
    for (id, file) in [
        ("download-model", "lab.safetensors"),
        ("download-train", "lab-train.csv"),
        ("download-test", "lab-test.csv"),
    ] {
        client.find(Locator::Id(id)).await.unwrap().click().await.unwrap();
        wait_file(&dir.join(file)).await;
    }
    let predicted = actlab(
        &[
            "predict",
            "--model",
            "lab.safetensors",
            "--data",
            "lab-test.csv",
            "--proba",
        ],
        dir,
    );
    let test_rows = std::fs::read_to_string(dir.join("lab-test.csv"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(predicted.lines().count(), test_rows);

    // The command reproduces the run: the model it saves predicts exactly the same.
    std::fs::rename(dir.join("lab.safetensors"), dir.join("from-lab.safetensors")).unwrap();
    let args: Vec<&str> = command.split_whitespace().skip(1).collect();
    actlab(&args, dir);
    let again = actlab(
        &[
            "predict",
            "--model",
            "lab.safetensors",
            "--data",
            "lab-test.csv",
            "--proba",
        ],
        dir,
    );
    assert_eq!(again, predicted);

    client.close().await.unwrap();
}
