"""Settings: frozen, typed, validated; explicit argument > ``HOOKCORE_*`` env > default."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any, TypeVar

from hookcore.errors import ConfigError
from hookcore.logs import LogFormat, LogLevel
from hookcore.nats_auth import NatsAuth
from hookcore.tracing import TracingMode, check_available

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
DAY = 24 * 60 * 60

_E = TypeVar("_E", bound=Enum)


def _doc(text: str, **kwargs: Any) -> Any:
    return field(metadata={"doc": text}, **kwargs)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything an ingress or worker process is configured with.

    Every field can come from the environment as ``HOOKCORE_<FIELD>`` (upper case),
    which is how `hookcore serve` hands settings to its Granian worker processes.
    """

    nats_url: str = _doc(
        "NATS server URL(s), comma separated: nats://[user:password@]host:port, or tls://… for TLS.",
        default="nats://127.0.0.1:4222",
    )
    nats_user: str = _doc("NATS user name (with HOOKCORE_NATS_PASSWORD).", default="")
    nats_password: str = _doc("NATS password of HOOKCORE_NATS_USER.", default="")
    nats_token: str = _doc("NATS authentication token.", default="")
    nats_nkey_seed: str = _doc("Path of a file holding the NATS user's nkey seed (SU…).", default="")
    nats_creds: str = _doc(
        "Path of a NATS .creds file (a user JWT and its nkey seed), for operator/JWT deployments.",
        default="",
    )
    nats_tls_ca: str = _doc(
        "Path of the PEM CA certificate(s) NATS servers are verified against (else the system's); "
        "setting it turns TLS on.",
        default="",
    )
    nats_tls_cert: str = _doc(
        "Path of the PEM client certificate presented to NATS (mutual TLS; with HOOKCORE_NATS_TLS_KEY).",
        default="",
    )
    nats_tls_key: str = _doc("Path of the PEM private key of HOOKCORE_NATS_TLS_CERT.", default="")
    nats_tls_first: bool = _doc(
        "Start TLS before NATS's greeting (for servers with tls { handshake_first: true }).", default=False
    )
    public_url: str = _doc(
        "Base of the URLs hookcore hands out (webhookUrls, Location); no trailing slash.",
        default="http://127.0.0.1:8080",
    )
    admin_token: str = _doc("Bearer token for /api/*; empty disables the control plane.", default="")
    secret: str = _doc(
        "Server secret deriving API keys and signing result URLs; the same on every process. "
        "Empty: the admin token is used.",
        default="",
    )
    max_body: int = _doc("Largest request body accepted, in bytes (413 above).", default=10 * MIB)
    max_headers: int = _doc(
        "Most header lines one request may carry (431 above; Granian itself refuses more than 100).",
        default=64,
    )
    max_header_bytes: int = _doc(
        "Most bytes of header names and values per request (431 above).", default=64 * 1024
    )
    max_parts: int = _doc("Most parts one multipart body may have (413 above).", default=1000)
    max_part_header_bytes: int = _doc(
        "Most header bytes of one multipart part (413 above).", default=16 * 1024
    )
    body_read_timeout: float = _doc(
        "Seconds a sender has to deliver a request's whole body (408 after; slow senders hold no "
        "connection longer).",
        default=60.0,
    )
    rate_limits: bool = _doc(
        "Enforce rate limits (turn off only where a gateway in front already limits).", default=True
    )
    publish_timeout: float = _doc(
        "Seconds to wait for JetStream to acknowledge an accepted request before answering 503.",
        default=5.0,
    )
    max_publish_buffer: int = _doc(
        "Most bytes waiting to be sent on the publisher's NATS connection; a request that would "
        "queue behind more gets 503 at once (nothing stored) instead of waiting on a stalled server. "
        "Keep it several times max_body: a few large bodies in flight are that many bytes.",
        default=64 * MIB,
    )
    duplicate_window: float = _doc(
        "Seconds JetStream remembers a request's id (Nats-Msg-Id) so a frame resent after a "
        "reconnect is stored once; at least the publish timeout. nats-server keeps every id "
        "of the window in memory (about 150 B each).",
        default=15.0,
    )
    max_stream_bytes: int = _doc(
        "Byte limit of the stream of accepted requests; when full, new requests get 503 "
        "storage_full and nothing stored is dropped.",
        default=4 * GIB,
    )
    max_bucket_bytes: int = _doc(
        "Byte limit of each key-value bucket (execution records, results, state, config, nodes).",
        default=1 * GIB,
    )
    max_object_bytes: int = _doc(
        "Byte limit of the object store (bodies and results too big for one message).",
        default=4 * GIB,
    )
    sync_timeout: float = _doc(
        "Seconds a synchronous request waits for its execution before a 504 (per flow: sync_timeout=).",
        default=30.0,
    )
    result_url_ttl: float = _doc(
        "Seconds a signed result URL (the Location of a 303) stays valid.", default=24 * 3600.0
    )
    ack_wait: float = _doc(
        "Seconds a worker may hold an execution without progress before it is redelivered.",
        default=30.0,
    )
    running_record_after: float = _doc(
        "Seconds an execution runs before its record says 'running' (one record write and one "
        "index entry more): shorter ones go from 'queued' straight to their end, one write each.",
        default=1.0,
    )
    customer_weights: str = _doc(
        "Shares of the workers' time, as a JSON object of customer (external id) to weight "
        '(e.g. {"acme": 2}; others weigh 1): a customer with work waiting starts weight times '
        "as many executions as one of weight 1 with work waiting. Set the same on every worker.",
        default="",
    )
    max_redeliveries: int = _doc(
        "Deliveries an execution may get beyond its flow's attempts: runs that never reported "
        "back (the worker crashed, hung past ack_wait or lost NATS). The next delivery ends it "
        "dead, without running it.",
        default=10,
    )
    max_record_bytes: int = _doc(
        "Largest execution record stored, in bytes (at most the NATS max_payload less 64 KiB): "
        "longer errors, log lines and step results are cut, with a '… [truncated N bytes]' marker.",
        default=256 * 1024,
    )
    max_log_lines: int = _doc(
        "Log lines kept per execution: the first and last halves, with a marker line "
        "saying how many were dropped between them.",
        default=1000,
    )
    retention_days: float = _doc(
        "Days accepted requests, execution records and results are kept.", default=30.0
    )
    replicas: int = _doc(
        "JetStream replicas of hookcore's streams and buckets (1 single server, 3 or 5 cluster).",
        default=1,
    )
    # field() rather than _doc(): ruff's RUF009 knows field() returns no shared default.
    log_format: LogFormat = field(
        default=LogFormat.TEXT,
        metadata={
            "doc": "How processes write their log on stderr: 'text' lines, or 'json', one object per "
            "line with execution_id, customer, flow and endpoint fields where they apply."
        },
    )
    log_level: LogLevel = field(
        default=LogLevel.INFO,
        metadata={"doc": "Least severe log level written: DEBUG, INFO, WARNING, ERROR or CRITICAL."},
    )
    access_log: bool = _doc(
        "Log every HTTP request the ingress answers (Granian's access log, in HOOKCORE_LOG_FORMAT).",
        default=False,
    )
    tracing: TracingMode = field(
        default=TracingMode.OFF,
        metadata={
            "doc": "'otlp': a trace per request, ingress to worker, exported as the standard OTEL_* "
            "environment says (needs pip install 'hookcore[otel]'); 'off': none."
        },
    )

    metrics_customers: int = _doc(
        "Customers counted by name in hookcore_customer_requests_total: the first this many "
        "seen since the ingress started; later ones count in hookcore_other_customer_requests_total.",
        default=100,
    )
    admin_port: int = _doc(
        "Serve /api, /metrics and /console on this port only (on HOOKCORE_ADMIN_HOST), and answer "
        "them 404 on the public port; 0: everything on the public port.",
        default=0,
    )
    admin_host: str = _doc("Interface the admin port listens on.", default="127.0.0.1")
    worker_port: int = _doc(
        "Port on which each worker serves /metrics and /healthz (on HOOKCORE_WORKER_HOST); 0: none.",
        default=0,
    )
    worker_host: str = _doc("Interface the worker's metrics port listens on.", default="127.0.0.1")

    def __post_init__(self) -> None:
        _check_range("max_body", self.max_body, 1, 1024 * MIB)
        _check_range("max_headers", self.max_headers, 1, 100)
        _check_range("max_header_bytes", self.max_header_bytes, 256, 16 * MIB)
        _check_range("max_parts", self.max_parts, 1, 1_000_000)
        _check_range("max_part_header_bytes", self.max_part_header_bytes, 64, MIB)
        _check_range("body_read_timeout", self.body_read_timeout, 0.1, 3600)
        _check_range("publish_timeout", self.publish_timeout, 0.01, 600)
        _check_range("max_publish_buffer", self.max_publish_buffer, MIB, 1024 * MIB)
        _check_range("duplicate_window", self.duplicate_window, 1, DAY)
        if self.duplicate_window < self.publish_timeout:
            raise ConfigError(
                f"duplicate_window ({self.duplicate_window:g}s) must be at least publish_timeout "
                f"({self.publish_timeout:g}s): a request resent within its publish timeout "
                "would otherwise be stored twice"
            )
        for name in ("max_stream_bytes", "max_bucket_bytes", "max_object_bytes"):
            _check_range(name, getattr(self, name), 64 * KIB, 1024**5)
        _check_range("ack_wait", self.ack_wait, 0.5, 24 * 3600)
        _check_range("sync_timeout", self.sync_timeout, 0.01, 3600)
        _check_range("result_url_ttl", self.result_url_ttl, 1, 365 * DAY)
        _check_range("max_redeliveries", self.max_redeliveries, 0, 1000)
        _check_range("running_record_after", self.running_record_after, 0, 3600)
        _ = self.weights  # a malformed weights table fails here, at start
        _check_range("max_record_bytes", self.max_record_bytes, 16 * 1024, 64 * MIB)
        _check_range("max_log_lines", self.max_log_lines, 2, 1_000_000)
        _check_range("retention_days", self.retention_days, 1 / 86400, 3650)
        _check_range("metrics_customers", self.metrics_customers, 0, 100_000)
        _check_range("admin_port", self.admin_port, 0, 65535)
        _check_range("worker_port", self.worker_port, 0, 65535)
        if self.replicas not in (1, 3, 5):
            raise ConfigError(f"replicas must be 1, 3 or 5, got {self.replicas}")
        object.__setattr__(self, "log_format", _choice("log_format", LogFormat, self.log_format))
        object.__setattr__(self, "log_level", _choice("log_level", LogLevel, str(self.log_level).upper()))
        object.__setattr__(self, "tracing", _choice("tracing", TracingMode, str(self.tracing).lower()))
        if self.tracing is not TracingMode.OFF:
            check_available()  # the extra installed, an exporter hookcore has
        if not self.public_url.startswith(("http://", "https://")):
            raise ConfigError(f"public_url must start with http:// or https://, got {self.public_url!r}")
        _ = self.nats_auth  # credentials that do not fit together fail here, at start
        if self.public_url.endswith("/"):
            object.__setattr__(self, "public_url", self.public_url.rstrip("/"))

    @property
    def weights(self) -> dict[str, float]:
        """``customer_weights`` read (`ConfigError` naming what is wrong)."""
        if not self.customer_weights.strip():
            return {}
        try:
            table = json.loads(self.customer_weights)
        except ValueError as e:
            raise ConfigError(
                f"customer_weights must be a JSON object, got {self.customer_weights!r}: {e}"
            ) from None
        if not isinstance(table, dict):
            raise ConfigError(
                f'customer_weights must be a JSON object like {{"acme": 2}}, got {self.customer_weights!r}'
            )
        for customer, weight in table.items():
            if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0.01 <= weight <= 100:
                raise ConfigError(
                    f"customer_weights: the weight of {customer!r} must be a number from 0.01 to 100, "
                    f"got {weight!r}"
                )
        return {customer: float(weight) for customer, weight in table.items()}

    @property
    def nats_auth(self) -> NatsAuth:
        """The NATS credentials and TLS files (`ConfigError` when they do not fit together)."""
        return NatsAuth(
            user=self.nats_user,
            password=self.nats_password,
            token=self.nats_token,
            nkey_seed=self.nats_nkey_seed,
            creds=self.nats_creds,
            tls_ca=self.nats_tls_ca,
            tls_cert=self.nats_tls_cert,
            tls_key=self.nats_tls_key,
            tls_first=self.nats_tls_first,
        )

    def with_nats_auth(self, auth: NatsAuth) -> Settings:
        """These settings with ``auth``'s credentials and TLS files instead of their own."""
        return dataclasses.replace(
            self, **{f"nats_{f.name}": getattr(auth, f.name) for f in fields(NatsAuth)}
        )

    @property
    def signing_key(self) -> bytes:
        """The key API keys and result URLs are derived from; `ConfigError` when there is none."""
        self.require_signing_key()
        return (self.secret or self.admin_token).encode()

    def require_signing_key(self) -> None:
        """`ConfigError` unless a secret (or the admin token standing in for it) is set."""
        if not (self.secret or self.admin_token):
            raise ConfigError(
                "set HOOKCORE_SECRET (or HOOKCORE_ADMIN_TOKEN) to the same value on every process: "
                "API keys and result URLs are derived from it"
            )

    @property
    def retention_seconds(self) -> float:
        return self.retention_days * DAY

    @classmethod
    def load(cls, **explicit: Any) -> Settings:
        """Build settings: explicit non-None arguments, then ``HOOKCORE_*`` env, then defaults."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if explicit.get(f.name) is not None:
                values[f.name] = explicit[f.name]
                continue
            raw = os.environ.get(env_name(f.name))
            if raw is not None:
                values[f.name] = _convert(f, raw)
        unknown = set(explicit) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The environment that makes `Settings.load()` in a child process return these settings."""
        return {env_name(f.name): str(getattr(self, f.name)) for f in fields(self)}


def env_name(field_name: str) -> str:
    return f"HOOKCORE_{field_name.upper()}"


def describe() -> list[tuple[str, str, str]]:
    """(environment variable, default, meaning) for every setting, for docs and --help."""
    return [
        (
            env_name(f.name),
            repr(f.default.value if isinstance(f.default, Enum) else f.default),
            f.metadata["doc"],
        )
        for f in fields(Settings)
    ]


def _convert(f: dataclasses.Field[Any], raw: str) -> Any:
    kind = f.type if isinstance(f.type, type) else {"int": int, "float": float, "bool": bool}.get(str(f.type))
    if kind is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{env_name(f.name)} must be true or false, got {raw!r}")
    try:
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
    except ValueError:
        raise ConfigError(f"{env_name(f.name)} must be a number, got {raw!r}") from None
    return raw


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")


def _choice(name: str, kind: type[_E], value: Any) -> _E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(repr(member.value) for member in kind)
        raise ConfigError(f"{name} must be one of {allowed}, got {value!r}") from None
