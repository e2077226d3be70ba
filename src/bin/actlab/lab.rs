//! `actlab lab`: the live web lab. Serves one page (embedded in the binary) and a WebSocket
//! per open page, on which the page sets up networks and asks for training steps; training
//! and every measurement happen here, in actlab's engine ([`actlab::lab`]).
//!
//! Protocol on `/ws`: the page sends JSON text messages ([`Request`]); the server answers
//! each with one message: JSON text (`setup`, `data`, `error`) or binary, whose first byte
//! says what follows (see [`FRAMES`] and [`MODEL`]).

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use actlab::lab::{self, curve, Feature, LabConfig, LabData, Session};
use actlab::{Activation, Target, Task};
use anyhow::{Context, Result};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Request as HttpRequest, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use clap::Args;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Semaphore;

pub const EXAMPLES: &str = "Examples:
  actlab lab                      # serves http://127.0.0.1:8080/
  actlab lab --port 9000 --open   # another port, and open it in the browser";

#[derive(Args, Debug)]
pub struct LabArgs {
    /// Port to serve on (0: any free port; the URL printed names it).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address to listen on. Other than a loopback address, it lets other machines use the lab
    /// (and this machine's processors): a warning says so.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Open the lab in the default web browser.
    #[arg(long)]
    pub open: bool,
}

/// Pages that may train at once; one more is refused until one closes.
pub const MAX_SESSIONS: usize = 4;
/// Most epochs one step request may ask for.
pub const MAX_EPOCHS_PER_STEP: usize = 1000;
/// First byte of a binary message with frames: then the number of networks (1 byte), and per
/// network the length of its frame's JSON (u32, little-endian), the JSON, the length of its
/// heatmaps (u32) and the heatmaps.
pub const FRAMES: u8 = 1;
/// First byte of a binary message with the model file of network A (actlab safetensors).
pub const MODEL: u8 = 2;

const INDEX_HTML: &str = include_str!("lab/index.html");
const LAB_JS: &str = include_str!("lab/lab.js");
const LAB_CSS: &str = include_str!("lab/lab.css");

pub fn run(args: &LabArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the web server's runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind((args.host, args.port))
            .await
            .with_context(|| {
                format!(
                    "--port {}: cannot listen on {}",
                    args.port,
                    SocketAddr::new(args.host, args.port)
                )
            })?;
        let address = listener.local_addr()?;
        if !args.host.is_loopback() {
            eprintln!(
                "warning: --host {} lets other machines reach the lab and train on this one; it has no login",
                args.host
            );
        }
        // Listening on every address (0.0.0.0 or ::): this machine opens it on its loopback.
        let local = match address.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), address.port()),
            IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), address.port()),
            _ => address,
        };
        let url = format!("http://{local}/");
        println!("actlab lab: open {url} (Ctrl-C stops it)");
        std::io::stdout().flush()?;
        if args.open {
            open_browser(&url);
        }
        axum::serve(listener, app(address.port()))
            .await
            .context("the web server stopped")
    })
}

/// Opens `url` with the desktop's opener; a failure is a warning (the URL is printed).
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    if let Err(e) = std::process::Command::new(opener).arg(url).spawn() {
        eprintln!("warning: --open: cannot run {opener} ({e}); open {url} yourself");
    }
}

struct Lab {
    port: u16,
    sessions: Arc<Semaphore>,
}

/// The lab's routes, for a server listening on `port`.
pub fn app(port: u16) -> Router {
    let lab = Arc::new(Lab {
        port,
        sessions: Arc::new(Semaphore::new(MAX_SESSIONS)),
    });
    Router::new()
        .route("/", get(|| async { asset(INDEX_HTML, "text/html; charset=utf-8") }))
        .route(
            "/lab.js",
            get(|| async { asset(LAB_JS, "text/javascript; charset=utf-8") }),
        )
        .route("/lab.css", get(|| async { asset(LAB_CSS, "text/css; charset=utf-8") }))
        .route("/ws", get(socket))
        .layer(middleware::from_fn_with_state(lab.clone(), same_origin))
        .with_state(lab)
}

fn asset(body: &'static str, kind: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// Refuses requests whose Host is not `localhost` or an IP address with the lab's port, or
/// whose Origin (when sent) is not `http://` and that Host: a page on another site, even one
/// whose name resolves to this machine (DNS rebinding), gets nothing.
async fn same_origin(State(lab): State<Arc<Lab>>, headers: HeaderMap, request: HttpRequest, next: Next) -> Response {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(host) = text(header::HOST).filter(|h| is_own_host(h, lab.port)) else {
        return refuse(format!(
            "the lab answers requests for localhost:{0} or an IP address with port {0} only",
            lab.port
        ));
    };
    if let Some(origin) = text(header::ORIGIN) {
        if !origin.eq_ignore_ascii_case(&format!("http://{host}")) {
            return refuse(format!(
                "requests from the page at {origin} are refused; open http://{host}/"
            ));
        }
    }
    next.run(request).await
}

fn refuse(message: String) -> Response {
    (StatusCode::FORBIDDEN, message).into_response()
}

/// Whether `host` (a Host header) names this machine by `localhost` or an IP address, with `port`.
fn is_own_host(host: &str, port: u16) -> bool {
    let Some((name, p)) = host.rsplit_once(':') else {
        return false;
    };
    if p.parse() != Ok(port) {
        return false;
    }
    let name = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')).unwrap_or(name);
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok()
}

async fn socket(State(lab): State<Arc<Lab>>, upgrade: WebSocketUpgrade) -> Response {
    let Ok(permit) = lab.sessions.clone().try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the lab already trains for {MAX_SESSIONS} pages; close one and reload"),
        )
            .into_response();
    };
    upgrade
        .max_message_size(lab::MAX_UPLOAD_BYTES + (64 << 10))
        .on_upgrade(move |socket| async move {
            serve(socket).await;
            // The page went away: its networks are dropped and its place freed.
            drop(permit);
        })
}

/// What a page asks for.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// New networks: `config`'s, and with `b` a second one identical but for its hidden
    /// activations (A/B mode), on generated data or on `csv` (an upload).
    Setup {
        config: LabConfig,
        #[serde(default)]
        b: Option<Vec<Activation>>,
        #[serde(default)]
        csv: Option<String>,
    },
    /// Train every network `epochs` more epochs (0: none), then send their frames (each with
    /// `command`, and `train_ms`: the milliseconds its epochs took).
    Step { epochs: usize },
    /// Set a weight of network `net` (see [`Session::set_weight`]), then send the frames.
    SetWeight {
        net: usize,
        layer: usize,
        to: usize,
        from: usize,
        value: f32,
    },
    /// Send network A's model file.
    Model,
    /// Send the training (or with `test`, the test) data as CSV.
    Data { test: bool },
    /// Send `f` and `f'` of these activations.
    Curves { names: Vec<String> },
}

/// Answers one page's requests until it goes away.
async fn serve(mut socket: WebSocket) {
    let mut nets: Vec<Session> = Vec::new();
    while let Some(Ok(message)) = socket.recv().await {
        let text = match message {
            Message::Text(text) => text,
            Message::Close(_) => break,
            _ => continue,
        };
        let work = tokio::task::spawn_blocking(move || {
            let reply = answer(&mut nets, text.as_str());
            (nets, reply)
        });
        let Ok((returned, reply)) = work.await else {
            break;
        };
        nets = returned;
        if socket.send(reply).await.is_err() {
            break;
        }
    }
}

/// The answer to one request.
pub fn answer(nets: &mut Vec<Session>, text: &str) -> Message {
    let request: Request = match serde_json::from_str(text) {
        Ok(r) => r,
        Err(e) => return error(format!("the page sent a request the lab does not understand: {e}")),
    };
    match request {
        Request::Setup { config, b, csv } => match setup(config, b, csv.as_deref()) {
            Ok((sessions, reply)) => {
                *nets = sessions;
                Message::Text(reply.to_string().into())
            }
            Err(e) => error(e.to_string()),
        },
        Request::SetWeight {
            net,
            layer,
            to,
            from,
            value,
        } => match nets.get_mut(net).map(|n| n.set_weight(layer, to, from, value)) {
            Some(Ok(())) => frames(nets, 0),
            Some(Err(e)) => error(e.to_string()),
            None => error(format!("there is no network {net}")),
        },
        Request::Step { epochs } => {
            if nets.is_empty() {
                return error("set up a network first".into());
            }
            if epochs > MAX_EPOCHS_PER_STEP {
                return error(format!("at most {MAX_EPOCHS_PER_STEP} epochs per step, not {epochs}"));
            }
            frames(nets, epochs)
        }
        Request::Model => match nets.first().map(|n| actlab::model_io::to_safetensors(n.model())) {
            Some(Ok(bytes)) => Message::Binary([&[MODEL][..], &bytes].concat().into()),
            Some(Err(e)) => error(e.to_string()),
            None => error("set up a network first".into()),
        },
        Request::Data { test } => match nets.first() {
            Some(net) => Message::Text(
                json!({"type": "data", "test": test, "csv": net.csv(test)})
                    .to_string()
                    .into(),
            ),
            None => error("set up a network first".into()),
        },
        Request::Curves { names } => {
            let curves: Result<Vec<_>, String> = names
                .iter()
                .map(|n| {
                    let a: Activation = n.parse().map_err(|e: actlab::Error| e.to_string())?;
                    let [f, df] = curve(a, 65);
                    Ok(json!({"name": n, "f": f, "df": df}))
                })
                .collect();
            match curves {
                Ok(curves) => Message::Text(json!({"type": "curves", "curves": curves}).to_string().into()),
                Err(e) => error(e),
            }
        }
    }
}

/// Trains every network `epochs` more epochs and answers with their frames.
fn frames(nets: &mut [Session], epochs: usize) -> Message {
    let mut out = vec![FRAMES, nets.len() as u8];
    for net in nets.iter_mut() {
        // A diverged network stops; its frame says why.
        let start = std::time::Instant::now();
        let _ = net.step(epochs);
        let train_ms = start.elapsed().as_secs_f64() * 1e3;
        let frame = net.frame();
        let mut meta = serde_json::to_value(&frame).expect("a frame serializes");
        meta["command"] = json!(net.command());
        meta["train_ms"] = json!(train_ms);
        let meta = meta.to_string();
        out.extend((meta.len() as u32).to_le_bytes());
        out.extend(meta.as_bytes());
        out.extend((frame.heatmaps.len() as u32).to_le_bytes());
        out.extend(&frame.heatmaps);
    }
    Message::Binary(out.into())
}

fn error(message: String) -> Message {
    Message::Text(json!({"type": "error", "message": message}).to_string().into())
}

/// Builds network A (and B) and describes their data.
fn setup(
    config: LabConfig,
    b: Option<Vec<Activation>>,
    csv: Option<&str>,
) -> actlab::Result<(Vec<Session>, serde_json::Value)> {
    let data = match csv {
        Some(text) => LabData::upload(text.as_bytes(), &config)?,
        None => LabData::generate(&config)?,
    };
    let mut sessions = vec![Session::new(config.clone(), data.clone())?];
    if let Some(activations) = b {
        sessions.push(Session::new(LabConfig { activations, ..config }, data.clone())?);
    }
    let a = &sessions[0];
    let targets = |d: &actlab::Dataset| match &d.target {
        Target::Classes { labels, .. } => labels.iter().map(|&l| json!(l)).collect::<Vec<_>>(),
        Target::Values(values) => values.iter().map(|&v| json!(v)).collect(),
        Target::None => Vec::new(),
    };
    let mut labels = targets(&data.train);
    labels.extend(targets(&data.test));
    let reply = json!({
        "type": "setup",
        "task": match a.model().task { Task::Classification => "classification", Task::Regression => "regression" },
        "classes": a.model().classes,
        "inputs": a.model().feature_names,
        "features": data.features.iter().map(|f: &Feature| f.name()).collect::<Vec<_>>(),
        "domain": data.domain,
        "points": data.points,
        "labels": labels,
        "train": data.train.len(),
        "grid": lab::GRID,
        "nets": sessions.len(),
    });
    Ok((sessions, reply))
}
