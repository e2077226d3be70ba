//! The web server of `actlab lab`: its routes (through the router, and over a real socket),
//! the Host/Origin refusals, the WebSocket protocol, the upload limits and the session bound.

// The binary's module, at the crate root.
#[path = "../src/bin/actlab/lab.rs"]
#[allow(dead_code)]
mod lab;

use std::path::Path;

use axum::body::Body;
use axum::extract::ws::Message;
use axum::http::{header, Request, StatusCode};
use futures_util::{SinkExt, StreamExt};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};
use tower::ServiceExt;

const PORT: u16 = 8080;

async fn get(path: &str, headers: &[(header::HeaderName, &str)]) -> (StatusCode, String, String) {
    let mut request = Request::get(path);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    let response = lab::app(PORT)
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let kind = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, kind, String::from_utf8(body.to_vec()).unwrap())
}

fn host(value: &str) -> [(header::HeaderName, &str); 1] {
    [(header::HOST, value)]
}

#[tokio::test]
async fn serves_the_embedded_page_and_nothing_else() {
    let (status, kind, body) = get("/", &host("127.0.0.1:8080")).await;
    assert_eq!((status, kind.as_str()), (StatusCode::OK, "text/html; charset=utf-8"));
    assert!(
        body.contains(r#"<script src="/lab.js"></script>"#) && !body.contains("http"),
        "{body}"
    );
    let (status, kind, body) = get("/lab.js", &host("localhost:8080")).await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::OK, "text/javascript; charset=utf-8")
    );
    assert!(body.contains("new WebSocket(`ws://${location.host}/ws`)"));
    let (status, kind, _) = get("/lab.css", &host("[::1]:8080")).await;
    assert_eq!((status, kind.as_str()), (StatusCode::OK, "text/css; charset=utf-8"));
    for path in ["/index.html", "/../Cargo.toml", "/%2e%2e/Cargo.toml", "/src/lab.rs"] {
        assert_eq!(
            get(path, &host("127.0.0.1:8080")).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    // A plain GET of the socket's route is not an upgrade.
    assert_ne!(get("/ws", &host("127.0.0.1:8080")).await.0, StatusCode::OK);
}

#[tokio::test]
async fn refuses_other_hosts_and_origins() {
    for bad in [
        "evil.example:8080",
        "127.0.0.1:9999",
        "127.0.0.1",
        "localhost.evil.example:8080",
    ] {
        let (status, _, body) = get("/", &host(bad)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{bad}");
        assert_eq!(
            body,
            "the lab answers requests for localhost:8080 or an IP address with port 8080 only"
        );
    }
    assert_eq!(get("/", &[]).await.0, StatusCode::FORBIDDEN);
    let (status, _, body) = get(
        "/lab.js",
        &[
            (header::HOST, "127.0.0.1:8080"),
            (header::ORIGIN, "http://evil.example:8080"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        "requests from the page at http://evil.example:8080 are refused; open http://127.0.0.1:8080/"
    );
    let (status, _, _) = get(
        "/",
        &[
            (header::HOST, "127.0.0.1:8080"),
            (header::ORIGIN, "http://127.0.0.1:8080"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

fn text(message: Message) -> Value {
    match message {
        Message::Text(t) => serde_json::from_str(t.as_str()).unwrap(),
        other => panic!("expected text, got {other:?}"),
    }
}

/// Frames of a binary step answer: per network, its JSON and its heatmaps.
fn frames(bytes: &[u8]) -> Vec<(Value, Vec<u8>)> {
    assert_eq!(bytes[0], lab::FRAMES);
    let mut at = 2;
    let read = |at: &mut usize| {
        let n = u32::from_le_bytes(bytes[*at..*at + 4].try_into().unwrap()) as usize;
        *at += 4 + n;
        &bytes[*at - n..*at]
    };
    let frames: Vec<_> = (0..bytes[1])
        .map(|_| {
            let meta = serde_json::from_slice(read(&mut at)).unwrap();
            (meta, read(&mut at).to_vec())
        })
        .collect();
    assert_eq!(at, bytes.len());
    frames
}

fn binary(message: Message) -> Vec<u8> {
    match message {
        Message::Binary(b) => b.to_vec(),
        other => panic!("expected binary, got {other:?}"),
    }
}

#[test]
fn protocol_sets_up_steps_and_hands_out_the_model() {
    let mut nets = Vec::new();
    let error = text(lab::answer(&mut nets, r#"{"type":"step","epochs":1}"#));
    assert_eq!(error, json!({"type": "error", "message": "set up a network first"}));
    let setup = text(lab::answer(
        &mut nets,
        r#"{"type":"setup","config":{"data":"xor","hidden":[3],"activations":["relu"],"samples":100},"b":["tanh"]}"#,
    ));
    assert_eq!(setup["type"], "setup");
    assert_eq!(setup["classes"], json!(["0", "1"]));
    assert_eq!(setup["nets"], 2);
    assert_eq!(setup["points"].as_array().unwrap().len(), 100);
    assert_eq!(setup["labels"].as_array().unwrap().len(), 100);
    assert_eq!(setup["train"], 50);
    // Class of a point is 1 where the signs of x1 and x2 differ (up to noise near the axes).
    let agree = (0..100)
        .filter(|&i| {
            let p = &setup["points"][i];
            let differ = (p[0].as_f64().unwrap() > 0.0) != (p[1].as_f64().unwrap() > 0.0);
            setup["labels"][i] == json!(u32::from(differ))
        })
        .count();
    assert!(agree > 90, "{agree}");

    let answer = frames(&binary(lab::answer(&mut nets, r#"{"type":"step","epochs":5}"#)));
    assert_eq!(answer.len(), 2);
    for ((meta, heat), activation) in answer.iter().zip(["relu", "tanh"]) {
        assert_eq!(meta["epoch"], 5);
        assert_eq!(meta["layers"][0]["activation"], activation);
        assert_eq!(heat.len(), 100 * 100 * (1 + 3));
        assert!(meta["train_loss"].as_f64().unwrap() > 0.0);
        assert!(meta["command"]
            .as_str()
            .unwrap()
            .contains(&format!("--activation {activation} ")));
    }
    // Same data and seed, different activation: different losses.
    assert_ne!(answer[0].0["train_loss"], answer[1].0["train_loss"]);

    let edited = frames(&binary(lab::answer(
        &mut nets,
        r#"{"type":"set_weight","net":1,"layer":0,"to":2,"from":1,"value":4.5}"#,
    )));
    assert_eq!(edited[1].0["layers"][0]["weights"][5], 4.5);
    assert_eq!(edited[1].0["epoch"], 5);
    assert!(edited[1].0["command"]
        .as_str()
        .unwrap()
        .starts_with("# weights were set by hand"));
    assert!(!edited[0].0["command"].as_str().unwrap().starts_with('#'));
    let missing = text(lab::answer(
        &mut nets,
        r#"{"type":"set_weight","net":2,"layer":0,"to":0,"from":0,"value":1}"#,
    ));
    assert_eq!(missing["message"], "there is no network 2");

    let model = binary(lab::answer(&mut nets, r#"{"type":"model"}"#));
    assert_eq!(model[0], lab::MODEL);
    let model = actlab::model_io::from_safetensors(&model[1..], Path::new("lab.safetensors")).unwrap();
    assert_eq!(&model, nets[0].model());

    let data = text(lab::answer(&mut nets, r#"{"type":"data","test":true}"#));
    assert_eq!(data["csv"].as_str().unwrap().lines().next(), Some("x1,x2,label"));
    assert_eq!(data["csv"].as_str().unwrap().lines().count(), 51);

    let curves = text(lab::answer(
        &mut nets,
        r#"{"type":"curves","names":["relu","sigmoid"]}"#,
    ));
    assert_eq!(curves["curves"][0]["f"].as_array().unwrap().len(), 65);
    assert_eq!(curves["curves"][1]["df"][32], 0.25);
}

#[test]
fn protocol_errors_are_messages() {
    let mut nets = Vec::new();
    let message = |nets: &mut Vec<_>, request: &str| {
        text(lab::answer(nets, request))["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(message(&mut nets, "{").starts_with("the page sent a request the lab does not understand"));
    assert!(message(&mut nets, r#"{"type":"launch"}"#).contains("unknown variant `launch`"));
    let unknown = message(&mut nets, r#"{"type":"setup","config":{"activations":["relux"]}}"#);
    assert!(unknown.contains("unknown activation 'relux'"), "{unknown}");
    let layers = message(&mut nets, r#"{"type":"setup","config":{"hidden":[4,4,4,4,4,4,4]}}"#);
    assert!(layers.contains("at most 6 layers"), "{layers}");
    assert_eq!(
        text(lab::answer(&mut nets, r#"{"type":"setup","config":{}}"#))["type"],
        "setup"
    );
    let many = message(&mut nets, r#"{"type":"step","epochs":1001}"#);
    assert_eq!(many, "at most 1000 epochs per step, not 1001");
    let rows = format!("a,b,y\n{}", "1,2,0\n".repeat(10_001));
    let upload = message(
        &mut nets,
        &json!({"type": "setup", "config": {}, "csv": rows}).to_string(),
    );
    assert_eq!(
        upload,
        "the uploaded CSV: it has 10001 data rows; the lab takes at most 10000"
    );
    let bad = message(
        &mut nets,
        &json!({"type": "setup", "config": {}, "csv": "a,b,y\n1,2,0\n3,,1\n"}).to_string(),
    );
    assert!(bad.starts_with("the uploaded CSV:3:2:"), "{bad}");
    // The networks set up before a refused upload are kept.
    assert_eq!(nets.len(), 1);
}

#[test]
fn a_diverging_network_stops_and_says_why() {
    let mut nets = Vec::new();
    let setup =
        r#"{"type":"setup","config":{"data":"plane","hidden":[8,8,8],"activations":["relu"],"learning_rate":10}}"#;
    lab::answer(&mut nets, setup);
    let (meta, _) = frames(&binary(lab::answer(&mut nets, r#"{"type":"step","epochs":50}"#))).remove(0);
    let why = meta["diverged"].as_str().unwrap();
    assert!(why.contains("layer") && why.contains("smaller learning rate"), "{why}");
    let epoch = meta["epoch"].clone();
    let (again, _) = frames(&binary(lab::answer(&mut nets, r#"{"type":"step","epochs":5}"#))).remove(0);
    assert_eq!(again["epoch"], epoch);
}

/// The lab on a real socket on a free port, as `actlab lab --port 0` runs it.
async fn serve() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, lab::app(port)).await.unwrap() });
    port
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(port: u16) -> Result<Socket, tungstenite::Error> {
    tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws"))
        .await
        .map(|(s, _)| s)
}

fn refused_status(error: tungstenite::Error) -> u16 {
    match error {
        tungstenite::Error::Http(response) => response.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_train_and_are_bounded() {
    let port = serve().await;
    let mut socket = connect(port).await.unwrap();
    socket
        .send(tungstenite::Message::text(
            json!({"type": "setup", "config": {}}).to_string(),
        ))
        .await
        .unwrap();
    let setup: Value = serde_json::from_str(socket.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
    assert_eq!(setup["points"].as_array().unwrap().len(), 500);
    for epochs in [10, 10] {
        socket
            .send(tungstenite::Message::text(
                json!({"type": "step", "epochs": epochs}).to_string(),
            ))
            .await
            .unwrap();
    }
    let first = frames(&socket.next().await.unwrap().unwrap().into_data());
    let second = frames(&socket.next().await.unwrap().unwrap().into_data());
    assert_eq!(
        (first[0].0["epoch"].clone(), second[0].0["epoch"].clone()),
        (json!(10), json!(20))
    );
    assert!(second[0].0["train_loss"].as_f64() < first[0].0["train_loss"].as_f64());

    // The session bound: this one and three more; a fifth is refused until one closes.
    let mut others = Vec::new();
    for _ in 1..lab::MAX_SESSIONS {
        others.push(connect(port).await.unwrap());
    }
    assert_eq!(refused_status(connect(port).await.unwrap_err()), 503);
    socket.close(None).await.unwrap();
    drop(socket);
    let mut reconnected = None;
    for _ in 0..50 {
        if let Ok(s) = connect(port).await {
            reconnected = Some(s);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(reconnected.is_some(), "a closed page's place is freed");

    // A page elsewhere cannot open a socket (DNS rebinding, cross-site WebSocket).
    let mut request = format!("ws://127.0.0.1:{port}/ws").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", "http://evil.example".parse().unwrap());
    assert_eq!(
        refused_status(tokio_tungstenite::connect_async(request).await.unwrap_err()),
        403
    );
}

/// `actlab lab` itself: the URL on stdout, a warning off loopback, one error line for a busy port.
#[test]
fn the_command_prints_its_url_and_its_errors() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_actlab"))
        .args(["lab", "--host", "0.0.0.0", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let mut warning = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut warning)
        .unwrap();
    // The URL printed for a lab on every address opens on this machine.
    let address = line
        .trim_start_matches("actlab lab: open http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let page = std::net::TcpStream::connect(&address).and_then(|mut stream| {
        use std::io::{Read, Write};
        write!(stream, "GET / HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n")?;
        let mut response = String::new();
        stream.read_to_string(&mut response).map(|_| response)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        line.starts_with("actlab lab: open http://127.0.0.1:") && line.ends_with("/ (Ctrl-C stops it)\n"),
        "{line}"
    );
    assert_eq!(
        warning,
        "warning: --host 0.0.0.0 lets other machines reach the lab and train on this one; it has no login\n"
    );
    let page = page.unwrap();
    assert!(
        page.starts_with("HTTP/1.1 200") && page.contains("<title>actlab lab</title>"),
        "{page}"
    );

    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_actlab"))
        .args(["lab", "--port", &port])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("error: --port {port}: cannot listen on 127.0.0.1:{port}: ")),
        "{stderr}"
    );
}

/// The `actlab train` command the lab gives, run on the lab's two CSV files, ends with the
/// lab's weights, bit for bit, with L1 and L2 regularisation (and L1 has set some to 0).
#[test]
fn the_command_reproduces_a_run_with_l1_and_l2() {
    use actlab::lab::{LabConfig, LabData, Session};
    use actlab::optim::OptimizerKind;
    for optimizer in [OptimizerKind::Sgd, OptimizerKind::Adam] {
        let config = LabConfig {
            optimizer,
            l1: 0.03,
            l2: 0.001,
            ..LabConfig::default()
        };
        let data = LabData::generate(&config).unwrap();
        let mut session = Session::new(config, data).unwrap();
        session.step(7).unwrap();
        session.step(5).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("lab-train.csv"), session.csv(false)).unwrap();
        std::fs::write(dir.path().join("lab-test.csv"), session.csv(true)).unwrap();
        let command = session.command();
        assert!(command.contains(" --l1 0.03 --weight-decay 0.001 "), "{command}");
        let args: Vec<&str> = command.split_whitespace().skip(1).collect();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_actlab"))
            .args(&args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let trained = actlab::model_io::load(&dir.path().join("lab.safetensors")).unwrap();
        let lab = &session.model().mlp;
        assert_eq!(trained.mlp.params(), lab.params(), "{optimizer}");
        assert!(lab.params().contains(&0.0), "{optimizer}: no weight is 0");
    }
}
