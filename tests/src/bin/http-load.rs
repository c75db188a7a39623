//! A load generator for the host's HTTP server: keep-alive clients sending requests as fast
//! as answers come back, for the scale figures in `docs/benchmarks.md` (`scripts/scale.sh`
//! runs it). Dependency-free HTTP/1.1 over tokio's TCP, so what it measures is the server.
//!
//! ```text
//! http-load --url http://127.0.0.1:8080 --clients 32 --seconds 30 \
//!     check-send --key pgk_… --addresses FILE --recipients 100 --purpose email-marketing
//! http-load --url … --clients 32 --seconds 30 page --paths FILE
//! http-load --url … --clients 8 sweep --key pgk_… --addresses FILE --recipients 1000
//! ```
//!
//! `check-send` posts batches of addresses picked at random from FILE (one per line);
//! `page` gets paths from FILE (one per line, e.g. `/preferences/<token>`) in turn;
//! `sweep` checks every address of FILE once, in batches, and stops. Prints throughput,
//! p50/p99/max latency and errors (`--json` for a script); exits 1 on any error.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct Options {
    host: String,
    clients: usize,
    seconds: u64,
    json: bool,
    workload: Workload,
}

enum Workload {
    CheckSend {
        key: String,
        addresses: Vec<String>,
        recipients: usize,
        purpose: String,
    },
    Page {
        paths: Vec<String>,
    },
    Sweep {
        key: String,
        addresses: Vec<String>,
        recipients: usize,
        purpose: String,
    },
}

/// What one client saw.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
    items: u64,
}

fn main() -> anyhow::Result<std::process::ExitCode> {
    let options = parse(std::env::args().skip(1).collect())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let options = Arc::new(options);
    let started = Instant::now();
    let tallies = runtime.block_on(run(options.clone()))?;
    let elapsed = started.elapsed();
    report(&options, &tallies, elapsed)
}

async fn run(options: Arc<Options>) -> anyhow::Result<Vec<Tally>> {
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let next_batch = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = Vec::new();
    for client in 0..options.clients {
        let options = options.clone();
        let next_batch = next_batch.clone();
        clients.push(tokio::spawn(async move {
            run_client(&options, client, deadline, &next_batch).await
        }));
    }
    let mut tallies = Vec::new();
    for client in clients {
        tallies.push(client.await??);
    }
    Ok(tallies)
}

async fn run_client(
    options: &Options,
    client: usize,
    deadline: Instant,
    next_batch: &std::sync::atomic::AtomicUsize,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    let mut connection = None;
    let mut random = 0x9E37_79B9_7F4A_7C15_u64 ^ (client as u64 + 1).wrapping_mul(0xA24B_AED4);
    let mut request_number = client;
    loop {
        let (request, items) = match &options.workload {
            Workload::CheckSend {
                key,
                addresses,
                recipients,
                purpose,
            } => {
                if Instant::now() >= deadline {
                    break;
                }
                let batch: Vec<&str> = (0..*recipients)
                    .map(|_| {
                        addresses[next_random(&mut random) as usize % addresses.len()].as_str()
                    })
                    .collect();
                (
                    check_send_request(&options.host, key, purpose, &batch),
                    batch.len(),
                )
            }
            Workload::Page { paths } => {
                if Instant::now() >= deadline {
                    break;
                }
                request_number += options.clients;
                let path = &paths[request_number % paths.len()];
                let request = format!(
                    "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept-Language: en\r\n\r\n",
                    options.host
                );
                (request.into_bytes(), 1)
            }
            Workload::Sweep {
                key,
                addresses,
                recipients,
                purpose,
            } => {
                let batch = next_batch.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let start = batch * recipients;
                if start >= addresses.len() {
                    break;
                }
                let end = (start + recipients).min(addresses.len());
                let batch: Vec<&str> = addresses[start..end].iter().map(String::as_str).collect();
                (
                    check_send_request(&options.host, key, purpose, &batch),
                    batch.len(),
                )
            }
        };
        let sent = Instant::now();
        let answer = match connection.take() {
            Some(stream) => exchange(stream, &request).await,
            None => match TcpStream::connect(&options.host).await {
                Ok(stream) => exchange(BufReader::new(stream), &request).await,
                Err(error) => Err(anyhow::Error::from(error).context("connecting")),
            },
        };
        match answer {
            Ok((stream, 200)) => {
                tally
                    .latencies_us
                    .push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
                tally.items += items as u64;
                connection = Some(stream);
            }
            Ok((stream, status)) => {
                tally.errors += 1;
                tally
                    .first_error
                    .get_or_insert_with(|| format!("HTTP status {status}"));
                connection = Some(stream);
            }
            Err(error) => {
                tally.errors += 1;
                tally
                    .first_error
                    .get_or_insert_with(|| format!("{error:#}"));
            }
        }
    }
    Ok(tally)
}

fn check_send_request(host: &str, key: &str, purpose: &str, addresses: &[&str]) -> Vec<u8> {
    let recipients: Vec<serde_json::Value> = addresses
        .iter()
        .map(|address| serde_json::json!({ "address": address, "role": "to" }))
        .collect();
    let body = serde_json::json!({
        "class": "marketing",
        "purpose": purpose,
        "recipients": recipients,
    })
    .to_string();
    let mut request = format!(
        "POST /api/v1/check-send HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body.as_bytes());
    request
}

/// Sends one request and reads its whole answer; the connection comes back for the next.
async fn exchange(
    mut stream: BufReader<TcpStream>,
    request: &[u8],
) -> anyhow::Result<(BufReader<TcpStream>, u16)> {
    stream.get_mut().write_all(request).await?;
    let mut line = String::new();
    stream.read_line(&mut line).await?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .with_context(|| format!("not an HTTP status line: {line:?}"))?;
    let mut length = None;
    let mut chunked = false;
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            bail!("the server closed the connection mid-answer");
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.trim().parse::<usize>()?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.trim().eq_ignore_ascii_case("chunked");
            }
        }
    }
    if chunked {
        loop {
            line.clear();
            stream.read_line(&mut line).await?;
            let size = usize::from_str_radix(line.trim_end(), 16)?;
            let mut chunk = vec![0; size + 2];
            stream.read_exact(&mut chunk).await?;
            if size == 0 {
                break;
            }
        }
    } else {
        let mut body = vec![0; length.unwrap_or(0)];
        stream.read_exact(&mut body).await?;
    }
    Ok((stream, status))
}

fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn report(
    options: &Options,
    tallies: &[Tally],
    elapsed: Duration,
) -> anyhow::Result<std::process::ExitCode> {
    let mut latencies: Vec<u32> = tallies
        .iter()
        .flat_map(|tally| tally.latencies_us.iter().copied())
        .collect();
    latencies.sort_unstable();
    let requests = latencies.len();
    let items: u64 = tallies.iter().map(|tally| tally.items).sum();
    let errors: u64 = tallies.iter().map(|tally| tally.errors).sum();
    let first_error = tallies.iter().find_map(|tally| tally.first_error.clone());
    let percentile = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let index = ((latencies.len() - 1) as f64 * p).round() as usize;
        f64::from(latencies[index]) / 1000.0
    };
    let seconds = elapsed.as_secs_f64();
    let summary = serde_json::json!({
        "clients": options.clients,
        "seconds": seconds,
        "requests": requests,
        "requests_per_second": requests as f64 / seconds,
        "items_per_second": items as f64 / seconds,
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
        "max_ms": percentile(1.0),
        "errors": errors,
        "first_error": first_error,
    });
    let mut out = std::io::stdout().lock();
    if options.json {
        writeln!(out, "{summary}")?;
    } else {
        writeln!(
            out,
            "{requests} requests in {seconds:.1} s from {} clients: {:.0} requests/s, {:.0} items/s; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {errors} error(s){}",
            options.clients,
            requests as f64 / seconds,
            items as f64 / seconds,
            percentile(0.50),
            percentile(0.99),
            percentile(1.0),
            first_error.map_or(String::new(), |error| format!(" (first: {error})")),
        )?;
    }
    Ok(if errors == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

const USAGE: &str = "usage: http-load --url http://HOST:PORT [--clients N] [--seconds S] [--json] \
(check-send --key KEY --addresses FILE [--recipients N] [--purpose ID] | page --paths FILE | \
sweep --key KEY --addresses FILE [--recipients N] [--purpose ID])";

fn parse(arguments: Vec<String>) -> anyhow::Result<Options> {
    let mut url = None;
    let mut clients = 32;
    let mut seconds = 30;
    let mut json = false;
    let mut mode = None;
    let mut key = None;
    let mut list = None;
    let mut recipients = 100;
    let mut purpose = "email-marketing".to_owned();
    let mut arguments = arguments.into_iter();
    while let Some(argument) = arguments.next() {
        let mut value = |name: &str| {
            arguments
                .next()
                .with_context(|| format!("{name} needs a value\n{USAGE}"))
        };
        match argument.as_str() {
            "--url" => url = Some(value("--url")?),
            "--clients" => clients = value("--clients")?.parse()?,
            "--seconds" => seconds = value("--seconds")?.parse()?,
            "--json" => json = true,
            "--key" => key = Some(value("--key")?),
            "--addresses" | "--paths" => list = Some(value(&argument)?),
            "--recipients" => recipients = value("--recipients")?.parse()?,
            "--purpose" => purpose = value("--purpose")?,
            "check-send" | "page" | "sweep" if mode.is_none() => mode = Some(argument),
            other => bail!("`{other}` is not an option here\n{USAGE}"),
        }
    }
    let url = url.with_context(|| format!("--url is missing\n{USAGE}"))?;
    let host = url
        .strip_prefix("http://")
        .with_context(|| format!("--url `{url}` must start with http://"))?
        .trim_end_matches('/')
        .to_owned();
    let read_list = |list: Option<String>| -> anyhow::Result<Vec<String>> {
        let path = list.with_context(|| format!("--addresses/--paths is missing\n{USAGE}"))?;
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let lines: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect();
        if lines.is_empty() {
            bail!("{path} has no lines");
        }
        Ok(lines)
    };
    let key_needed =
        |key: Option<String>| key.with_context(|| format!("--key is missing\n{USAGE}"));
    if clients == 0 || recipients == 0 {
        bail!("--clients and --recipients must be at least 1");
    }
    let workload = match mode.as_deref() {
        Some("check-send") => Workload::CheckSend {
            key: key_needed(key)?,
            addresses: read_list(list)?,
            recipients,
            purpose,
        },
        Some("page") => Workload::Page {
            paths: read_list(list)?,
        },
        Some("sweep") => Workload::Sweep {
            key: key_needed(key)?,
            addresses: read_list(list)?,
            recipients,
            purpose,
        },
        _ => bail!("say what to load: check-send, page or sweep\n{USAGE}"),
    };
    Ok(Options {
        host,
        clients,
        seconds,
        json,
        workload,
    })
}
