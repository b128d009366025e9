//! The Prometheus registry (contract §8): the series, counted where each
//! outcome is known (requests by the access-log middleware, logins by the
//! login flow, refreshes by the sessions service), and the text exposition
//! (the `prometheus` crate writes it) that `GET /metrics` answers with.
//! Knows no HTTP framework and no database.
//!
//! Labels are bounded sets: a route group, a status code, an outcome.
//! Never a path, a user name, a token or anything else a client chose.
//! Recording is lock-free and allocation-free: every label child is
//! resolved once (at start, or at the first request with that status) and
//! then counting is an atomic add.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus::core::{MetricVec, MetricVecBuilder};

use crate::db::ledger::ReuseCause;
use crate::events::{Event, Kind};
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Which part of the gateway a request went to: the `route` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteGroup {
    Auth,
    Api,
    Static,
    Other,
}

impl RouteGroup {
    const ALL: [RouteGroup; 4] = [
        RouteGroup::Auth,
        RouteGroup::Api,
        RouteGroup::Static,
        RouteGroup::Other,
    ];

    fn label(self) -> &'static str {
        match self {
            RouteGroup::Auth => "auth",
            RouteGroup::Api => "api",
            RouteGroup::Static => "static",
            RouteGroup::Other => "other",
        }
    }
}

/// How a login ended.
#[derive(Debug, Clone, Copy)]
pub enum LoginOutcome {
    Ok,
    Invalid,
    Throttled,
}

/// How a refresh ended.
#[derive(Debug, Clone, Copy)]
pub enum RefreshOutcome {
    Rotated,
    Replayed,
    Reused,
    Expired,
    Invalid,
}

/// Why a proxied call got no answer from the upstream.
#[derive(Debug, Clone, Copy)]
pub enum UpstreamFailure {
    Unavailable,
    Timeout,
}

/// Why a proxied WebSocket closed (contract §11): the `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketClose {
    /// A peer closed it (a close frame, whatever its code).
    Normal,
    /// Its session ended.
    SessionEnded,
    /// A message over `PORTCULLIS_WS_MAX_MESSAGE`.
    TooBig,
    /// The gateway shut down.
    Shutdown,
    /// A peer stopped answering pings.
    Idle,
    /// A peer went away without a close frame, or broke the protocol.
    Error,
}

impl SocketClose {
    const ALL: [SocketClose; 6] = [
        SocketClose::Normal,
        SocketClose::SessionEnded,
        SocketClose::TooBig,
        SocketClose::Shutdown,
        SocketClose::Idle,
        SocketClose::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SocketClose::Normal => "normal",
            SocketClose::SessionEnded => "session_ended",
            SocketClose::TooBig => "too_big",
            SocketClose::Shutdown => "shutdown",
            SocketClose::Idle => "idle",
            SocketClose::Error => "error",
        }
    }
}

/// Status codes actix can send: 100 to 999.
const FIRST_STATUS: u16 = 100;
const STATUSES: usize = 900;

/// The gateway's metrics, one registry per application.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    /// `requests` children by route group and status code, made on first use.
    by_status: Box<[OnceLock<IntCounter>]>,
    durations: [Histogram; 4],
    logins: [IntCounter; 3],
    refreshes: [IntCounter; 5],
    upstream_errors: [IntCounter; 2],
    reuses: [IntCounter; 2],
    events_written: [IntCounter; Kind::ALL.len()],
    sessions_active: IntGauge,
    sockets: SocketSeries,
    access_lines_dropped: IntCounter,
}

impl Metrics {
    /// Registers every series. Names and labels are constants, so a
    /// failure is a programming error found by the first test.
    #[expect(
        clippy::expect_used,
        reason = "constant definitions: a start-up invariant"
    )]
    pub fn new() -> Self {
        Self::build().expect("the metric definitions are valid")
    }

    fn build() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let durations = HistogramVec::new(
            HistogramOpts::new(
                "portcullis_http_request_duration_seconds",
                "Time from request to response headers, by route group.",
            ),
            &["route"],
        )?;
        registry.register(Box::new(durations.clone()))?;
        let counted = |name: &str, help: &str, labels: &[&str]| {
            let vec = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(vec.clone()))?;
            Ok::<_, prometheus::Error>(vec)
        };
        let requests = counted(
            "portcullis_http_requests_total",
            "HTTP requests answered, by route group and status code.",
            &["route", "status"],
        )?;
        let logins = counted(
            "portcullis_logins_total",
            "Login attempts, by outcome.",
            &["outcome"],
        )?;
        let refreshes = counted(
            "portcullis_refreshes_total",
            "Refresh-token presentations, by outcome; reused means a session was revoked for reuse.",
            &["outcome"],
        )?;
        let upstream_errors = counted(
            "portcullis_upstream_errors_total",
            "Proxied calls the upstream did not answer, by kind.",
            &["kind"],
        )?;
        let reuses = counted(
            "portcullis_refresh_reuse_total",
            "Sessions ended for refresh-token reuse, by cause: successor_used (likely theft) or successor_unused.",
            &["cause"],
        )?;
        let events_written = counted(
            "portcullis_events_written_total",
            "Security events stored, by kind.",
            &["kind"],
        )?;
        let sessions_active = IntGauge::new(
            "portcullis_sessions_active",
            "Login sessions neither ended nor expired, read from the database at scrape time.",
        )?;
        let access_lines_dropped = IntCounter::new(
            "portcullis_access_log_dropped_total",
            "Access-log lines dropped because the log writer's queue was full.",
        )?;
        registry.register(Box::new(sessions_active.clone()))?;
        registry.register(Box::new(access_lines_dropped.clone()))?;
        register_process(&registry)?;

        Ok(Self {
            by_status: (0..RouteGroup::ALL.len() * STATUSES)
                .map(|_| OnceLock::new())
                .collect(),
            durations: children(&durations, RouteGroup::ALL.map(RouteGroup::label))?,
            logins: children(&logins, ["ok", "invalid", "throttled"])?,
            refreshes: children(
                &refreshes,
                ["rotated", "replayed", "reused", "expired", "invalid"],
            )?,
            upstream_errors: children(&upstream_errors, ["unavailable", "timeout"])?,
            reuses: children(
                &reuses,
                [ReuseCause::SuccessorUnused, ReuseCause::SuccessorUsed].map(ReuseCause::as_str),
            )?,
            events_written: children(&events_written, Kind::ALL.map(Kind::as_str))?,
            sockets: socket_series(&registry)?,
            registry,
            requests,
            sessions_active,
            access_lines_dropped,
        })
    }

    /// Counts one answered request.
    pub fn request(&self, group: RouteGroup, status: u16, elapsed: Duration) {
        let code = usize::from(status.saturating_sub(FIRST_STATUS)).min(STATUSES - 1);
        let slot = &self.by_status[group as usize * STATUSES + code];
        slot.get_or_init(|| {
            self.requests
                .with_label_values(&[group.label(), &status.to_string()])
        })
        .inc();
        self.durations[group as usize].observe(elapsed.as_secs_f64());
    }

    pub fn login(&self, outcome: LoginOutcome) {
        self.logins[outcome as usize].inc();
    }

    pub fn refresh(&self, outcome: RefreshOutcome) {
        self.refreshes[outcome as usize].inc();
    }

    pub fn upstream_error(&self, failure: UpstreamFailure) {
        self.upstream_errors[failure as usize].inc();
    }

    /// Counts a session ended for refresh-token reuse.
    pub fn reuse(&self, cause: ReuseCause) {
        self.reuses[cause as usize].inc();
    }

    /// Counts a proxied WebSocket that opened.
    pub fn socket_opened(&self) {
        self.sockets.active.inc();
    }

    /// Counts a proxied WebSocket that closed, and why.
    pub fn socket_closed(&self, why: SocketClose) {
        self.sockets.active.dec();
        self.sockets.closes[why as usize].inc();
    }

    /// Counts security events that were stored.
    pub fn events(&self, written: &[Event]) {
        for event in written {
            self.events_written[event.kind() as usize].inc();
        }
    }

    /// The exposition text, with `sessions_active` set to `live_sessions`
    /// when it could be counted (else its last value).
    pub fn render(&self, live_sessions: Option<i64>) -> Result<Vec<u8>, prometheus::Error> {
        if let Some(n) = live_sessions {
            self.sessions_active.set(n);
        }
        // the count lives in the logger, process-wide; catch up to it
        let dropped = crate::logging::dropped_access_lines();
        let seen = self.access_lines_dropped.get();
        if dropped > seen {
            self.access_lines_dropped.inc_by(dropped - seen);
        }
        let mut out = Vec::with_capacity(8 * 1024);
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        Ok(out)
    }
}

/// The series of proxied WebSockets (contract §11): how many are open,
/// and how many closed, by reason.
struct SocketSeries {
    active: IntGauge,
    closes: [IntCounter; SocketClose::ALL.len()],
}

fn socket_series(registry: &Registry) -> prometheus::Result<SocketSeries> {
    let closes = IntCounterVec::new(
        Opts::new(
            "portcullis_websocket_closes_total",
            "Proxied WebSockets closed, by reason.",
        ),
        &["reason"],
    )?;
    registry.register(Box::new(closes.clone()))?;
    let active = IntGauge::new(
        "portcullis_websockets_active",
        "Proxied WebSockets open now.",
    )?;
    registry.register(Box::new(active.clone()))?;
    let closes = children(&closes, SocketClose::ALL.map(SocketClose::as_str))?;
    Ok(SocketSeries { active, closes })
}

/// `portcullis_build_info{version,commit}`, always 1: which build runs
/// (the commit is the build script's `git rev-parse`, else `unknown`).
fn register_build_info(registry: &Registry) -> prometheus::Result<()> {
    let info = IntGaugeVec::new(
        Opts::new(
            "portcullis_build_info",
            "Always 1; the labels say which build runs.",
        ),
        &["version", "commit"],
    )?;
    info.with_label_values(&[env!("CARGO_PKG_VERSION"), env!("PORTCULLIS_COMMIT")])
        .set(1);
    registry.register(Box::new(info))
}

/// The process's own series: which build it is, and its CPU, memory and
/// open files where the crate can read them.
fn register_process(registry: &Registry) -> prometheus::Result<()> {
    register_build_info(registry)?;
    #[cfg(target_os = "linux")]
    registry.register(Box::new(
        prometheus::process_collector::ProcessCollector::for_self(),
    ))?;
    #[cfg(not(target_os = "linux"))]
    let _ = registry;
    Ok(())
}

/// The children of `vec` for each of `labels` (its only label), in order:
/// indexed by the outcome enums' discriminants.
fn children<P: MetricVecBuilder, const N: usize>(
    vec: &MetricVec<P>,
    labels: [&str; N],
) -> prometheus::Result<[P::M; N]> {
    let made = labels
        .iter()
        .map(|l| vec.get_metric_with_label_values(&[l]))
        .collect::<prometheus::Result<Vec<_>>>()?;
    made.try_into()
        .map_err(|_| prometheus::Error::Msg("one child per label".into()))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_route_groups_and_codes_never_paths() {
        let m = Metrics::new();
        m.request(RouteGroup::Static, 404, Duration::from_millis(3));
        m.request(RouteGroup::Api, 200, Duration::from_millis(1));
        m.request(RouteGroup::Api, 200, Duration::from_millis(1));
        m.login(LoginOutcome::Throttled);
        m.reuse(ReuseCause::SuccessorUsed);
        let at = chrono::DateTime::from_timestamp(0, 0).unwrap();
        let caller = crate::events::Caller::default();
        m.events(&[Event::new(Kind::UserDisabled, &caller, at)]);
        let text = String::from_utf8(m.render(Some(7)).unwrap()).unwrap();
        assert!(text.contains(r#"portcullis_http_requests_total{route="static",status="404"} 1"#));
        assert!(text.contains(r#"portcullis_http_requests_total{route="api",status="200"} 2"#));
        assert!(text.contains(r#"portcullis_logins_total{outcome="throttled"} 1"#));
        assert!(text.contains("portcullis_sessions_active 7"));
        assert!(text.contains(r#"portcullis_http_request_duration_seconds_count{route="api"} 2"#));
        assert!(text.contains("portcullis_access_log_dropped_total "));
        assert!(text.contains(r#"portcullis_refresh_reuse_total{cause="successor_used"} 1"#));
        assert!(text.contains(r#"portcullis_refresh_reuse_total{cause="successor_unused"} 0"#));
        assert!(text.contains(r#"portcullis_events_written_total{kind="user_disabled"} 1"#));
        assert!(text.contains(r#"portcullis_events_written_total{kind="login_ok"} 0"#));
        m.socket_opened();
        m.socket_opened();
        m.socket_closed(SocketClose::SessionEnded);
        let text = String::from_utf8(m.render(None).unwrap()).unwrap();
        assert!(text.contains("portcullis_websockets_active 1"));
        assert!(text.contains(r#"portcullis_websocket_closes_total{reason="session_ended"} 1"#));
        assert!(text.contains(r#"portcullis_websocket_closes_total{reason="too_big"} 0"#));
    }
}
