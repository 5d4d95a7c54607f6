//! The oncewallet server: wallet API, operator API and dashboard in one binary.
use server::config::Config;
use server::startup::Application;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    server::telemetry::init(config.log_json);
    if let Some(code) =
        server::reconcile::cli::dispatch(&std::env::args().collect::<Vec<_>>()).await?
    {
        std::process::exit(code)
    }
    if std::env::args().nth(1).as_deref() == Some("simulate") {
        let args: Vec<String> = std::env::args().skip(2).collect();
        std::process::exit(server::simulate::cli::run(&args).await?);
    }
    if std::env::args().nth(1).as_deref() == Some("bench") {
        let args: Vec<String> = std::env::args().skip(2).collect();
        std::process::exit(server::bench::cli::run(&args).await?);
    }
    if std::env::args().nth(1).as_deref() == Some("seed") {
        let args: Vec<String> = std::env::args().skip(2).collect();
        std::process::exit(server::seed::cli::run(&args).await?);
    }
    if std::env::args().nth(1).as_deref() == Some("verify-trail") {
        std::process::exit(server::trail::run_cli(&config).await?);
    }
    let token_generated = config.operator_token_generated;
    let token = config.operator_token.clone();
    let database = redact_url(&config.database_url);
    let app = Application::build(config).await?;
    tracing::info!(addr = %app.addr(), %database, "oncewallet listening");
    println!("{}", app.banner(token_generated.then_some(token.as_str())));
    app.run_until_stopped().await
}

/// The database URL without its password, for the start-up log.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://…@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}
