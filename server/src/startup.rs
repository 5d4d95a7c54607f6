//! Building the application: one router used by `main` and by every test.
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::db::Store;
use crate::error::{ApiError, ErrorCode};
use crate::http::request_id::RequestId;
use crate::http::state::{AppState, AppStateInner};

/// The whole HTTP surface: wallet API, operator API, health, API docs and the site.
pub fn router(state: AppState, config: &Config) -> Router {
    let staff = crate::staff::Staff::new(state.store.clone(), config.staff.clone());
    Router::new()
        .merge(crate::http::wallet::router(state.clone()))
        .merge(crate::http::operator::router(state.clone()))
        .merge(crate::http::pam::router(state.clone()))
        .merge(crate::http::reconcile::router(state.clone()))
        .merge(crate::http::seal::router(state.clone()))
        .merge(crate::http::webhooks::router(state.clone()))
        .merge(crate::health::router())
        .merge(crate::health::metrics::router(
            crate::health::Gauges::new(
                state.store.clone(),
                state.schedule.interval,
                state.schedule.thresholds.orphan_after,
            ),
            config.metrics_token.as_deref(),
        ))
        .merge(crate::http::openapi::router(&state.currencies))
        .route("/wallet/v1/{*rest}", axum::routing::any(unknown_endpoint))
        .route("/operator/v1/{*rest}", axum::routing::any(unknown_endpoint))
        // Only the APIs': the console's routes come after and keep axum's own answer.
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone())
        .merge(crate::docs_ui::router())
        // The console: its pages, /auth, /api and /console, behind CSRF check, session,
        // viewer and sign-in gate.
        .merge(crate::dashboard::router(
            state,
            &staff,
            &config.site_root,
            config.demo,
        ))
        .layer(axum::middleware::from_fn(crate::http::request_id::assign))
}

async fn unknown_endpoint(
    axum::Extension(RequestId(request_id)): axum::Extension<RequestId>,
) -> axum::response::Response {
    crate::http::error_response(
        &ApiError::new(ErrorCode::NotFound, "no such endpoint"),
        &request_id,
    )
}

/// A known API path with another method: `405` in the contract's error shape.
async fn method_not_allowed(
    method: axum::http::Method,
    axum::Extension(RequestId(request_id)): axum::Extension<RequestId>,
) -> axum::response::Response {
    let error = ApiError {
        http_status: Some(405),
        ..ApiError::malformed(format!("{method} is not allowed on this path"))
    };
    crate::http::error_response(&error, &request_id)
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    addr: SocketAddr,
    /// Set when this start created the first admin with a generated password: the only
    /// time it can be shown.
    generated_admin_password: Option<String>,
    demo: bool,
    store: Store,
}

impl Application {
    /// Connects to the database, runs migrations and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        let store = Store::connect(&config.database_url, config.writer).await?;
        let generated_admin_password =
            crate::staff::ensure_first_admin(&store, config.staff.admin_password.clone()).await?;
        if generated_admin_password.is_some() {
            tracing::warn!("created the first admin with a generated password (printed once)");
        }
        crate::staff::spawn_session_cleanup(store.clone());
        crate::approvals::spawn_pending_gauge(store.clone());
        crate::reconcile::spawn_schedule(store.clone(), config.schedule);
        if let Some(sealing) = &config.sealing {
            crate::seal::spawn_schedule(store.clone(), sealing.clone());
        }
        crate::attempts::retention::spawn(store.clone(), config.retention);
        crate::events::spawn(
            store.clone(),
            Arc::new(config.currencies.clone()),
            config.delivery,
        );
        let state = AppState::new(AppStateInner {
            attempts: crate::attempts::AttemptLog::spawn(store.clone()),
            keys: crate::wallet::keys::KeyCache::for_engine(store.engine()),
            store: store.clone(),
            currencies: Arc::new(config.currencies.clone()),
            operator_token: Arc::from(config.operator_token.as_str()),
            wallet_rate_limit: config.wallet_rate_limit.clone(),
            schedule: config.schedule,
            sealing: config.sealing.clone(),
            valkyrie_api_key: config.pam.api_key.as_deref().map(Arc::from),
            locale_defaults: config.pam.locale_defaults.clone(),
        });
        crate::wallet::keys::spawn_usage_writer(state.store.clone(), state.keys.clone());
        let router = router(state, &config);
        let listener = TcpListener::bind(&config.site_addr).await?;
        let addr = listener.local_addr()?;
        if config.demo {
            // The listener is bound: the demo's first requests wait in its backlog.
            crate::simulate::spawn_demo(own_url(addr), config.operator_token.clone());
        }
        Ok(Application {
            listener,
            router,
            addr,
            generated_admin_password,
            demo: config.demo,
            store,
        })
    }

    /// The application's database handle (tests lower SQLite's size cap through it).
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What a person starting the server needs: where the console is and how to sign in,
    /// where the API docs are, and whether demo traffic is playing.
    pub fn banner(&self, operator_token: Option<&str>) -> String {
        let base = own_url(self.addr);
        let login = match &self.generated_admin_password {
            Some(password) => format!(
                "sign in as {} / {password}  (generated now, shown once)",
                crate::staff::users::FIRST_ADMIN
            ),
            None => format!(
                "sign in as {} (password from the first start or WALLET_ADMIN_PASSWORD)",
                crate::staff::users::FIRST_ADMIN
            ),
        };
        let mut lines = vec![
            "oncewallet is running".to_owned(),
            format!("  dashboard:      {base}/   {login}"),
            format!("  API docs:       {base}/api-docs"),
        ];
        if let Some(token) = operator_token {
            lines.push(format!(
                "  operator token: {token}  (generated; set WALLET_OPERATOR_TOKEN to choose one)"
            ));
        }
        lines.push(if self.demo {
            "  demo traffic:   on, three simulated providers (WALLET_DEMO=0 turns it off)"
                .to_owned()
        } else {
            "  demo traffic:   off".to_owned()
        });
        lines.join("\n")
    }

    /// Serves until the process receives SIGTERM or Ctrl-C, then drains in-flight requests.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes, then drains in-flight requests.
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        // Connection info gives the sign-in rate limit the client's address.
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, service)
            .with_graceful_shutdown(stop)
            .await?;
        Ok(())
    }
}

/// The server's own base URL; a wildcard listen address is reached on loopback.
fn own_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
