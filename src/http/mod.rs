//! The actix-web application: routes, shared state and the server with its tuned defaults.

mod client_address;
mod export;
mod graphiql;
mod graphql_handler;
mod health;
mod metrics;
pub mod over_http;
mod provider_webhooks;
mod tls;
pub mod websocket;
mod websocket_transport;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use actix_web::HttpMessage as _;
use actix_web::dev::{Server, Service, ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{App, web};
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder, TracingLogger};

use crate::config::PaymentProvider;
use crate::config::PersistedMode;
use crate::config::ServeConfig;
use crate::db::Db;
use crate::domain::money::Currency;
use crate::domain::pricing::{PricingPolicy, parse_percent_bp};
use crate::domain::stock::StockDisclosure;
use crate::domain::webhooks::DestinationPolicy;
use crate::graphql::documents::DocumentCache;
use crate::graphql::limits::QueryLimits;
use crate::graphql::persisted::PersistedQueries;
use crate::graphql::pipeline::Pipeline;
use crate::graphql::query_cost::CostModel;
use crate::graphql::{SchemaOptions, ShopSettings, build_schema};
use crate::services::accounts::Accounts;
use crate::services::background::Background;
use crate::services::bus::{Bus, Signal};
use crate::services::catalog::CategoryTreeCache;
use crate::services::checkout::CheckoutServices;
use crate::services::cost::CostLimiter;
use crate::services::jobs::{self, JobSchedule};
use crate::services::live::LiveEvents;
use crate::services::mail::{self, Mailer, Outbox};
use crate::services::payments::stripe::{StripeConfig, StripeGateway};
use crate::services::payments::{PaymentGateway, TestGateway};
use crate::services::rate_limits::RateLimits;
use crate::services::shared_limits::{SharedLimits, SharedLimitsSettings};
use crate::services::webhooks::{self, WebhookSettings, Webhooks};
use crate::telemetry::metrics::{Metrics, spawn_upkeep};
use crate::telemetry::requests::{HttpLine, RequestSummary, log_request_line};
use websocket::{SocketLimits, Sockets};

/// What every handler shares.
pub struct AppState {
    /// The GraphQL request pipeline (schema, authentication, limits, cost, execution).
    pub pipeline: Pipeline,
    /// The database pool.
    pub db: Db,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Serve GraphiQL.
    pub graphiql: bool,
    /// Serve the SDL at `/schema.graphql`.
    pub introspection: bool,
    /// Largest request body, in bytes.
    pub body_limit: usize,
    /// Most operations in a batch; 0: batching off.
    pub max_batch: usize,
    /// Takes payments; its webhook events arrive at `/webhooks/stripe`.
    pub gateway: Arc<dyn PaymentGateway>,
    /// The secret Stripe signs its webhook events with; unset: the endpoint answers 404.
    pub stripe_webhook_secret: Option<String>,
    /// The store currency (exports price products and variants in it).
    pub currency: Currency,
    /// Rows per statement of `/export/{kind}.jsonl`.
    pub export_batch_size: u32,
    /// The open WebSockets.
    pub sockets: Arc<Sockets>,
    /// The token `/metrics` asks for; unset: `/metrics` only on the metrics listener, if any.
    pub metrics_token: Option<String>,
}

/// The outside services the server talks to.
pub struct Integrations {
    /// Sends mail.
    pub mailer: Arc<dyn Mailer>,
    /// Takes payments.
    pub gateway: Arc<dyn PaymentGateway>,
}

/// How long an idle keep-alive connection stays open. A reverse proxy that keeps connections
/// to Bazaar open must close its idle ones sooner (deploy/nginx/bazaar.conf: 4 s), so that it
/// never sends a request on a connection Bazaar is closing.
const KEEP_ALIVE: Duration = Duration::from_secs(5);

/// A bound, not yet running server.
pub struct Application {
    server: Server,
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    sockets: Arc<Sockets>,
    stopping: Arc<AtomicBool>,
    background: BackgroundWork,
    bus: Arc<Bus>,
}

/// The server's background work, and what a stop that cuts it short gives back.
struct BackgroundWork {
    background: Background,
    shutdown_grace: Duration,
    webhooks: Arc<Webhooks>,
    db: Db,
}

/// The sockets the server accepts on: the public one (over TLS when configured), and one for
/// `/metrics` alone (plain HTTP).
struct Listeners {
    public: TcpListener,
    tls: Option<actix_tls::accept::rustls_0_23::Acceptor>,
    metrics: Option<TcpListener>,
}

/// Stops a running [`Application`]: its WebSockets close (1001), then the HTTP server stops.
#[derive(Clone)]
pub struct ServerHandle {
    server: actix_web::dev::ServerHandle,
    sockets: Arc<Sockets>,
    stopping: Arc<AtomicBool>,
    background: Background,
}

impl ServerHandle {
    /// Closes the WebSockets and stops the server; `graceful` lets requests in flight finish,
    /// and every answer from then on closes its connection (see [`close_when_stopping`]), and
    /// lets background work under way finish within the grace period (`--shutdown-grace-secs`).
    pub fn stop(&self, graceful: bool) -> impl Future<Output = ()> + use<> {
        self.stopping.store(true, Ordering::Relaxed);
        if graceful {
            self.background.begin_stop();
        }
        self.sockets.shut_down();
        self.server.stop(graceful)
    }
}

impl Application {
    /// Binds the listen address and builds the server, sending mail and taking payments as
    /// configured.
    pub fn build(config: &ServeConfig, db: Db, pool_size: u32) -> anyhow::Result<Self> {
        let payments = &config.payments;
        let gateway: Arc<dyn PaymentGateway> = match payments.payment_provider {
            PaymentProvider::Test => {
                if config.environment() == crate::config::Environment::Production {
                    tracing::warn!("payments go to the built-in test gateway: no money moves");
                }
                Arc::new(TestGateway::default())
            }
            PaymentProvider::Stripe => Arc::new(StripeGateway::new(StripeConfig {
                secret_key: payments.stripe_secret_key.clone().unwrap_or_default(),
                api_base: payments.stripe_api_base.clone(),
                webhook_secret: payments.stripe_webhook_secret.clone(),
                timeout: Duration::from_secs(payments.stripe_timeout_secs),
            })?),
        };
        let integrations = Integrations {
            mailer: mail::from_config(&config.mail, config.environment())?,
            gateway,
        };
        Self::build_with(config, db, pool_size, integrations)
    }

    /// Binds the listen address and builds the server over these outside services.
    pub fn build_with(
        config: &ServeConfig,
        db: Db,
        pool_size: u32,
        integrations: Integrations,
    ) -> anyhow::Result<Self> {
        let Integrations { mailer, gateway } = integrations;
        config.check()?;
        let tls = tls::acceptor(&config.tls)?;
        let currency = Currency::parse(&config.currency).map_err(anyhow::Error::msg)?;
        let bus = Bus::new();
        let db = db.in_currency(currency).on_notices({
            let bus = Arc::downgrade(&bus);
            Arc::new(move |notices| {
                if let Some(bus) = bus.upgrade() {
                    bus.deliver_local(notices);
                }
            })
        });
        let shared_limits = match &config.shared_limits.redis_url {
            Some(url) => Some(Arc::new(SharedLimits::connect(&SharedLimitsSettings {
                url: url.clone(),
                prefix: config.shared_limits.redis_prefix.clone(),
                timeout: Duration::from_millis(config.shared_limits.redis_timeout_ms),
            })?)),
            None => None,
        };
        let rate_limits = Arc::new(
            RateLimits::new(
                config.limits.rate_limits,
                config.payments.guest_checkouts_per_hour,
            )
            .shared_through(shared_limits.clone()),
        );
        let background = Background::on_current_runtime();
        let outbox = Outbox::new(mailer, background.clone());
        let checkout = Arc::new(CheckoutServices {
            limits: rate_limits.clone(),
            outbox: outbox.clone(),
            order_status_url: config.payments.order_status_url.clone(),
        });
        let accounts = Arc::new(
            Accounts::new(&config.auth, &config.mail, outbox)
                .with_shared_limits(shared_limits.clone()),
        );
        let categories = Arc::new(CategoryTreeCache::new(Duration::from_secs(u64::from(
            config.category_cache_seconds,
        ))));
        bus.on({
            let accounts = accounts.clone();
            move |signal| accounts.hear(signal)
        });
        let sockets = Sockets::new(SocketLimits {
            init_timeout: Duration::from_millis(config.limits.ws_init_timeout_ms),
            per_caller: config.limits.ws_max_sockets_per_caller,
            per_address: config.limits.ws_max_sockets_per_address,
            operations: config.limits.ws_max_operations,
            keepalive: Duration::from_secs(config.limits.ws_keepalive_secs),
            message_bytes: config.limits.body_limit_bytes as usize,
        });
        bus.on({
            let sockets = sockets.clone();
            move |signal| sockets.hear(signal)
        });
        bus.on({
            let categories = categories.clone();
            move |signal| {
                if matches!(signal, Signal::CategoriesChanged | Signal::Resync) {
                    categories.forget();
                }
            }
        });
        let limits_config = &config.limits;
        let limits = QueryLimits {
            max_tokens: limits_config.max_tokens as usize,
            max_depth: limits_config.max_depth as usize,
            max_fields: limits_config.max_fields as usize,
            max_aliases: limits_config.max_aliases as usize,
            max_directives: limits_config.max_directives as usize,
        };
        let allowlist = match &limits_config.persisted_queries_file {
            Some(path) => PersistedQueries::read_allowlist(path)?,
            None => Default::default(),
        };
        anyhow::ensure!(
            limits_config.persisted_queries != PersistedMode::Allowlist || !allowlist.is_empty(),
            "--persisted-queries allowlist needs --persisted-queries-file with the allowed documents"
        );
        let persisted = PersistedQueries::new(limits_config.persisted_queries, allowlist)?;
        let costs = Arc::new(
            CostLimiter::new(
                limits_config.cost_bucket_size,
                limits_config.cost_restore_rate,
            )
            .shared_through(shared_limits),
        );
        let metrics = if config.metrics.enabled() {
            Metrics::new()
        } else {
            Metrics::disabled()
        };
        let webhooks = Arc::new(Webhooks::new(WebhookSettings {
            policy: DestinationPolicy {
                allow_private: config.webhooks_may_reach_private(),
                allowed_networks: config.webhooks.webhook_allowed_networks.clone(),
            },
            timeout: Duration::from_secs(config.webhooks.webhook_timeout_secs),
            first_retry: Duration::from_millis(config.webhooks.webhook_first_retry_ms),
            poll_every: Duration::from_millis(config.webhooks.webhook_poll_ms),
            metrics: metrics.clone(),
        })?);
        let schema = build_schema(SchemaOptions {
            shop: ShopSettings {
                currency,
                pricing: pricing_policy(config, currency)?,
                stock: StockDisclosure::new(
                    i32::try_from(config.low_stock_threshold).unwrap_or(i32::MAX),
                ),
            },
            accounts: accounts.clone(),
            categories,
            gateway: gateway.clone(),
            checkout: checkout.clone(),
            rate_limits: rate_limits.clone(),
            webhooks: webhooks.clone(),
            live: LiveEvents::start(db.clone(), &bus),
            introspection: config.introspection_enabled(),
            suggestions: config.field_suggestions_enabled(),
        });
        let cost_model = CostModel::from_sdl(&schema.sdl())
            .ok_or_else(|| anyhow::anyhow!("the schema's own SDL does not parse"))?;
        let state = web::Data::new(AppState {
            pipeline: Pipeline {
                schema,
                db: db.clone(),
                accounts,
                bus: bus.clone(),
                limits,
                costs,
                cost_model,
                documents: DocumentCache::default(),
                persisted,
                request_timeout: Duration::from_secs(limits_config.request_timeout_secs),
                debug_extensions: config.debug_extensions_enabled(),
                metrics: metrics.clone(),
            },
            db: db.clone(),
            trusted_proxies: config.auth.trusted_proxies.clone(),
            graphiql: config.graphiql_enabled(),
            introspection: config.introspection_enabled(),
            body_limit: limits_config.body_limit_bytes as usize,
            max_batch: limits_config.max_batch as usize,
            gateway: gateway.clone(),
            stripe_webhook_secret: config.payments.stripe_webhook_secret.clone(),
            currency,
            export_batch_size: config.export_batch_size,
            sockets: sockets.clone(),
            metrics_token: config.metrics.metrics_token.clone(),
        });
        #[cfg(feature = "postgres")]
        if let Some(url) = db.postgres_url() {
            crate::services::bus::spawn_listener(&bus, url.to_owned())?;
        }
        webhooks::spawn(&background, webhooks.clone(), db.clone());
        spawn_upkeep(&metrics);
        jobs::spawn(
            &background,
            db.clone(),
            gateway,
            JobSchedule::new(
                config.payments.unpaid_order_minutes,
                config.event_retention_days,
            ),
        );
        let cors_origins = limits_config.cors_origins.clone();
        let listener = TcpListener::bind(config.listen)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
        let addr = listener.local_addr()?;
        let metrics_listener = match config.metrics.metrics_listen {
            Some(address) => Some(
                TcpListener::bind(address)
                    .map_err(|e| anyhow::anyhow!("cannot listen for metrics on {address}: {e}"))?,
            ),
            None => None,
        };
        let metrics_addr = match &metrics_listener {
            Some(listener) => Some(listener.local_addr()?),
            None => None,
        };
        let workers = config.effective_workers();
        // Each worker's blocking pool only ever waits on the database pool: more threads than
        // connections per worker just queue on r2d2 (see DESIGN.md §5b).
        let blocking_threads = (pool_size as usize).div_ceil(workers).max(2);
        let upgrades = state.clone();
        let listeners = Listeners {
            public: listener,
            tls,
            metrics: metrics_listener,
        };
        let stopping = Arc::new(AtomicBool::new(false));
        let app_stopping = stopping.clone();
        let server = serve(listeners, workers, blocking_threads, upgrades, move || {
            let stopping = app_stopping.clone();
            App::new()
                .wrap_fn(echo_request_id)
                .wrap(TracingLogger::<PathOnlySpan>::new())
                .wrap(cors(&cors_origins))
                .wrap_fn(move |request, service| {
                    close_when_stopping(stopping.clone(), request, service)
                })
                .app_data(state.clone())
                .configure(routes)
        })?;
        Ok(Self {
            server,
            addr,
            metrics_addr,
            sockets,
            stopping,
            bus,
            background: BackgroundWork {
                background,
                shutdown_grace: Duration::from_secs(config.shutdown_grace_secs),
                webhooks,
                db,
            },
        })
    }

    /// The address `/metrics` has a listener of its own on (`--metrics-listen`), if any.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// A handle to stop the server with.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            server: self.server.handle(),
            sockets: self.sockets.clone(),
            stopping: self.stopping.clone(),
            background: self.background.background.clone(),
        }
    }

    /// The address the server listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bus this server hears changes on: [`Bus::settle_everywhere`] waits until every
    /// instance has heard a change made behind the API (the CLI, SQL).
    pub fn bus(&self) -> Arc<Bus> {
        self.bus.clone()
    }

    /// Serves until SIGINT or SIGTERM (or a [`ServerHandle`] stops it), then closes the
    /// WebSockets (1001), lets requests in flight finish, and, on a graceful stop, lets
    /// background work under way finish within the grace period; webhook deliveries still being
    /// sent after it are handed back to the other instances.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.handle();
        actix_web::rt::spawn(async move {
            stop_signal().await;
            tracing::info!("stopping: closing WebSockets, finishing requests in flight");
            handle.stop(true).await;
        });
        let Self {
            server, background, ..
        } = self;
        let served = server.await;
        if background.background.is_stopping() {
            background.finish().await;
        }
        served
    }
}

impl BackgroundWork {
    /// Waits for background work within the grace period, then gives back what is left.
    async fn finish(&self) {
        if self.background.finish(self.shutdown_grace).await {
            return tracing::info!("background work finished");
        }
        let cut_short = self.background.under_way();
        match self.webhooks.hand_back(&self.db).await {
            Ok(handed_back) => tracing::warn!(
                cut_short,
                handed_back,
                "background work outlasted the grace period: webhook deliveries under way \
                 handed back to the other instances"
            ),
            Err(error) => tracing::error!(
                cut_short,
                error = %error.detail(),
                "background work outlasted the grace period, and its webhook deliveries could \
                 not be handed back: they are sent again when their lease ends"
            ),
        }
    }
}

/// The HTTP server over `app`, as actix-web's `HttpServer` builds it (same timeouts), except that
/// a request to upgrade to a WebSocket is not handed to the app: the connection, without the
/// HTTP layer's per-connection buffers, goes to [`websocket::take_over`]. The public listener
/// speaks TLS when it has an acceptor (see [`tls`]). The metrics listener, if any, serves
/// `/metrics` alone, in plain HTTP, on the same workers.
fn serve<F, I, S, B>(
    listeners: Listeners,
    workers: usize,
    blocking_threads: usize,
    state: web::Data<AppState>,
    app: F,
) -> std::io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: actix_service::IntoServiceFactory<S, actix_http::Request>,
    S: actix_service::ServiceFactory<actix_http::Request, Config = actix_web::dev::AppConfig>
        + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<actix_http::Response<B>> + 'static,
    <S::Service as Service<actix_http::Request>>::Future: 'static,
    S::Service: 'static,
    B: actix_web::body::MessageBody + 'static,
{
    use actix_http::{HttpService, Protocol};
    use actix_service::{ServiceFactoryExt as _, fn_service, map_config};
    use actix_web::dev::AppConfig;
    let addr = listeners.public.local_addr()?;
    let metrics_state = state.clone();
    // The app asks its config for nothing (no URL generation, no connection info); actix-web
    // keeps the constructor with the real address to itself.
    let public = move || {
        let app = app()
            .into_factory()
            .map_err(|error| error.into().error_response());
        PublicHttp {
            state: state.clone(),
            addr,
            app: map_config(app, |()| AppConfig::default()),
        }
    };
    let server = actix_server::Server::build()
        .workers(workers)
        .worker_max_blocking_threads(blocking_threads)
        .shutdown_timeout(30)
        // SIGINT and SIGTERM are handled in `run_until_stopped`, which closes the WebSockets
        // first: actix's own handling would wait for them until the shutdown timeout.
        .disable_signals();
    let mut server = match listeners.tls {
        Some(acceptor) => server.listen("bazaar", listeners.public, move || {
            tls::accept(acceptor.clone(), public().over())
        })?,
        None => server.listen("bazaar", listeners.public, move || {
            fn_service(|stream: tokio::net::TcpStream| async move {
                let peer = stream.peer_addr().ok();
                Ok::<_, actix_http::error::DispatchError>((stream, Protocol::Http1, peer))
            })
            .and_then(public().over())
        })?,
    };
    if let Some(listener) = listeners.metrics {
        let addr = listener.local_addr()?;
        server = server.listen("bazaar-metrics", listener, move || {
            let app = actix_service::IntoServiceFactory::into_factory(
                App::new()
                    .wrap(TracingLogger::<PathOnlySpan>::new())
                    .app_data(metrics_state.clone())
                    .route("/metrics", web::get().to(metrics::private)),
            )
            .map_err(|error| error.error_response());
            HttpService::build()
                .client_request_timeout(Duration::from_secs(5))
                .local_addr(addr)
                .finish(map_config(app, |()| AppConfig::default()))
                .tcp()
        })?;
    }
    Ok(server.run())
}

/// The public listener's HTTP service before it is given its connections (TCP, or TLS over it).
struct PublicHttp<A> {
    state: web::Data<AppState>,
    addr: SocketAddr,
    app: A,
}

impl<A> PublicHttp<A>
where
    A: actix_service::ServiceFactory<actix_http::Request, Config = ()> + 'static,
    A::Error: Into<actix_http::Response<actix_web::body::BoxBody>> + 'static,
    A::InitError: std::fmt::Debug,
    <A::Service as Service<actix_http::Request>>::Future: 'static,
{
    /// The service over connections of type `T`, with the timeouts of actix-web's `HttpServer`.
    fn over<T, B>(
        self,
    ) -> impl actix_service::ServiceFactory<
        (T, actix_http::Protocol, Option<SocketAddr>),
        Config = (),
        Response = (),
        Error = actix_http::error::DispatchError,
        InitError = (),
    >
    where
        T: websocket_transport::Upgraded,
        A::Response: Into<actix_http::Response<B>> + 'static,
        B: actix_web::body::MessageBody + 'static,
    {
        use actix_http::{HttpService, KeepAlive};
        let Self { state, addr, app } = self;
        HttpService::build()
            .keep_alive(KeepAlive::Timeout(KEEP_ALIVE))
            .client_request_timeout(Duration::from_secs(5))
            .client_disconnect_timeout(Duration::from_secs(1))
            .h1_allow_half_closed(true)
            .local_addr(addr)
            .upgrade(actix_service::fn_service(
                move |(request, framed): (
                    actix_http::Request,
                    actix_codec::Framed<T, actix_http::h1::Codec>,
                )| { websocket::take_over(state.clone(), request, framed) },
            ))
            .finish(app)
    }
}

/// Resolves at SIGINT or SIGTERM.
async fn stop_signal() {
    use actix_web::rt::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::error!("cannot listen for SIGINT and SIGTERM");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
}

/// The span of each HTTP request: method, path (never the query string, which may carry a GET
/// request's variables, tokens among them), status and request id.
pub struct PathOnlySpan;

/// When a request's handling began (for its log line).
#[derive(Clone, Copy)]
struct Started(Instant);

impl RootSpanBuilder for PathOnlySpan {
    fn on_request_start(request: &ServiceRequest) -> tracing::Span {
        request.extensions_mut().insert(Started(Instant::now()));
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.target = %request.path(),
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
            request_id = %request_id,
        )
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        if let Ok(response) = outcome {
            log_request(response);
        }
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// The one log line of an HTTP request (see [`log_request_line`]). A request that failed
/// before any handler (an `Err` outcome: none of Bazaar's handlers give one) is left to the
/// span.
fn log_request<B>(response: &ServiceResponse<B>) {
    let request = response.request();
    let extensions = request.extensions();
    let request_id = extensions
        .get::<RequestId>()
        .map(ToString::to_string)
        .unwrap_or_default();
    log_request_line(
        &request_id,
        Some(HttpLine {
            method: request.method().as_str(),
            path: request.path(),
            status: response.status().as_u16(),
        }),
        extensions
            .get::<Started>()
            .map(|started| started.0.elapsed())
            .unwrap_or_default(),
        extensions.get::<RequestSummary>(),
    );
}

/// Once the server is stopping, every answer says `Connection: close` and its connection closes
/// after it. The listener closes at the same time, so a keep-alive connection (a reverse
/// proxy's) is the only way a request still reaches this instance: answered this way, the proxy
/// opens its next connection elsewhere, and the server's drain ends as soon as the requests in flight are
/// answered, instead of serving a busy keep-alive connection until the shutdown timeout cuts it
/// mid-request. Idle connections are not closed here: a request may be on its way on one, and
/// a POST lost that way is not retried by a proxy; the client closes them, or the keep-alive
/// timeout does.
fn close_when_stopping<S, B>(
    stopping: Arc<AtomicBool>,
    request: ServiceRequest,
    service: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>> + use<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let response = service.call(request);
    async move {
        let mut response = response.await?;
        if stopping.load(Ordering::Relaxed) {
            response
                .response_mut()
                .head_mut()
                .set_connection_type(ConnectionType::Close);
        }
        Ok(response)
    }
}

/// Sends the request id (made by the tracing middleware, which runs first) back as
/// `x-request-id`, so a client can quote it and it can be found in the log.
fn echo_request_id<S>(
    request: ServiceRequest,
    service: &S,
) -> impl Future<Output = Result<ServiceResponse, actix_web::Error>> + use<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse, Error = actix_web::Error>,
{
    let request_id = request.extensions().get::<RequestId>().copied();
    let response = service.call(request);
    async move {
        let mut response = response.await?;
        if let Some(id) = request_id
            && let Ok(value) = HeaderValue::from_str(&id.to_string())
        {
            response
                .headers_mut()
                .insert(HeaderName::from_static("x-request-id"), value);
        }
        Ok(response)
    }
}

/// Shipping and tax from the configuration, in the store currency.
fn pricing_policy(config: &ServeConfig, currency: Currency) -> anyhow::Result<PricingPolicy> {
    let amount = |flag: &str, text: &str| {
        currency
            .parse_amount(text)
            .map_err(|e| anyhow::anyhow!("--{flag}: {e}"))
    };
    let free_shipping_from = match config.free_shipping_from.trim() {
        "none" | "" => None,
        text => Some(amount("free-shipping-from", text)?),
    };
    Ok(PricingPolicy {
        flat_shipping: amount("shipping-flat-rate", &config.shipping_flat_rate)?,
        free_shipping_from,
        tax_rate_bp: parse_percent_bp(&config.tax_rate_percent)
            .map_err(|e| anyhow::anyhow!("--tax-rate-percent: {e}"))?,
        prices_include_tax: config.prices_include_tax,
        tax_shipping: config.tax_shipping,
    })
}

/// Cross-origin access for the configured browser origins only: GET and POST with the headers a
/// GraphQL client sends; bearer tokens, not cookies, so no credentials mode.
fn cors(origins: &[String]) -> actix_cors::Cors {
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST"])
        .allowed_headers([
            actix_web::http::header::AUTHORIZATION,
            actix_web::http::header::CONTENT_TYPE,
            actix_web::http::header::ACCEPT,
        ])
        .expose_headers(["x-request-id", "retry-after"])
        .max_age(600);
    for origin in origins.iter().filter(|o| !o.is_empty()) {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// 405 for methods other than GET and POST on `/graphql`.
async fn method_not_allowed() -> actix_web::HttpResponse {
    actix_web::HttpResponse::MethodNotAllowed()
        .insert_header((actix_web::http::header::ALLOW, "GET, POST"))
        .finish()
}

/// Every route of the app.
fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/graphql")
            .route(web::post().to(graphql_handler::graphql_post))
            .route(web::get().to(graphql_handler::graphql_get))
            .default_service(web::to(method_not_allowed)),
    )
    .route("/graphiql", web::get().to(graphiql::page))
    .route("/graphiql/assets/{file}", web::get().to(graphiql::asset))
    .route("/schema.graphql", web::get().to(graphql_handler::sdl))
    .route(
        "/webhooks/stripe",
        web::post().to(provider_webhooks::stripe),
    )
    .route("/export/{file}", web::get().to(export::export))
    .route("/metrics", web::get().to(metrics::public))
    .route("/health/live", web::get().to(health::live))
    .route("/health/ready", web::get().to(health::ready));
}
