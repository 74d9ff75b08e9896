"""Load and validate config.yaml.

Every problem is collected and reported at once with its path (MkDocs-style), so a
comms officer reads what to fix instead of a traceback. Secrets are only ever
``${ENV_VAR}`` references, resolved from the environment when used.
"""

from __future__ import annotations

import functools
import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import core_schema

from digest.config_errors import (
    ENV_REF,
    describe_error,
    literal_secret_problems,
    reference_problems,
)
from digest.errors import ConfigError
from digest.signing import SigningKeys, parse_old_keys
from digest.timing import parse_duration, parse_schedule, skipped_local_times


class Strict(BaseModel):
    """Base for every config section: unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Pluggable(Strict):
    """Base of a pluggable kind's config classes (sources, channels).

    A subclass whose ``type`` is a literal (``type: Literal["feed"]``) is registered in
    its kind's ``registry`` under that name when the class is made: config.yaml's
    ``type:`` is looked up there when the config is validated, so a new integration is
    its config class (here or in its own module, imported before the config is loaded)
    plus the module that does the work.
    """

    registry: ClassVar[dict[str, type[Pluggable]]]
    type: str

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        annotation = cls.model_fields["type"].annotation
        if get_origin(annotation) is Literal:
            (tag,) = get_args(annotation)
            cls.registry[str(tag)] = cls


class SourceBase(Pluggable):
    """A source of items; its reader is registered with ``digest.sources.base.register``."""

    registry: ClassVar[dict[str, type[Pluggable]]] = {}
    tags: tuple[str, ...] = ()  # formats may select a source's items by tag

    def describe(self) -> str:
        """What a collect would read, for ``collect --dry-run`` (a reader with a
        ``describe(config)`` of its own, for what only it knows, is asked first)."""
        return f"{self.type} source"


class ChannelBase(Pluggable):
    """Where an edition goes: an email channel or a social channel."""

    registry: ClassVar[dict[str, type[Pluggable]]] = {}


class EmailChannel(ChannelBase):
    """A channel that mails each subscriber a copy."""


class SocialChannel(ChannelBase):
    """A channel that posts the edition's announcement on one platform."""

    @property
    def platform(self) -> str:
        """The platform whose rules and templates the posts follow (its ``type``)."""
        return self.type


@functools.cache
def _registered(base: type[Pluggable], names: tuple[str, ...]) -> TypeAdapter[Any]:
    members = tuple(base.registry[name] for name in names)
    tagged = Annotated[Union[members], Field(discriminator="type")]  # type: ignore[valid-type]  # noqa: UP007
    return TypeAdapter(dict[str, tagged])


def validate_registered(base: type[Pluggable], value: Any) -> Any:
    """``value`` (a mapping of name → config) validated by the registered classes."""
    return _registered(base, tuple(base.registry)).validate_python(value)


class SecretRef(str):
    """A ``${ENV_VAR}`` reference; the value is read only when needed."""

    @property
    def var(self) -> str:
        match = ENV_REF.match(self)
        assert match is not None
        return match.group(1)

    def resolve(self) -> str:
        value = os.environ.get(self.var)
        if value is None:
            raise ConfigError([f"environment variable {self.var} is not set"])
        return value

    def is_set(self) -> bool:
        return self.var in os.environ

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> Any:
        return core_schema.no_info_plain_validator_function(
            _secret, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )


def _secret(value: Any) -> SecretRef:
    if not isinstance(value, str) or not ENV_REF.match(value):
        raise ValueError(
            "secrets must not be written in config.yaml; "
            "use an environment variable reference like ${SMTP_PASSWORD}"
        )
    return SecretRef(value)


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    return parse_duration(str(value))


Duration = Annotated[timedelta, BeforeValidator(_duration)]

OriginKind = Literal["affiliate", "state_federation", "news_outlet", "own_blog", "other"]


class OriginConfig(Strict):
    """Who a source speaks for: shown as the heading or credit in the digest."""

    name: str
    kind: OriginKind = "other"
    state: str | None = None
    url: str | None = None


class Sender(Strict):
    name: str
    email: str


class Organization(Strict):
    """The organisation that publishes; its postal address goes in every footer."""

    name: str
    postal_address: str
    site_url: str
    sender: Sender
    reply_to: str | None = None
    staff_email: str | None = None
    unsubscribe_mailto: str | None = None
    language: str = "en"
    logo_url: str | None = None


class NetworkConfig(Strict):
    """Bounds for every outbound fetch."""

    timeout: float = 10.0
    max_bytes: int = 5_000_000
    max_redirects: int = 3
    concurrency: int = 50
    allow_private: bool = False  # loopback/private addresses: opt-in for tests and demos
    user_agent: str = "digest/0.1 (+https://github.com/digest)"


class FeedSource(SourceBase):
    """An RSS 2.0, Atom or JSON Feed, over HTTP(S) or from a local path."""

    type: Literal["feed"]
    url: str | None = None
    path: Path | None = None
    origin: OriginConfig
    tags: tuple[str, ...] = ()
    # An item's excerpt: its first real paragraph(s), cut at a sentence or word under this.
    excerpt_chars: int = Field(default=400, ge=80, le=5000)
    # The newest entries read per collect; the rest are counted in the report as skipped.
    max_entries: int = Field(default=500, ge=1, le=100_000)

    def describe(self) -> str:
        return f"feed: {self.url or self.path}"


class CuratedSource(SourceBase):
    """A folder of YAML/Markdown items written by staff."""

    type: Literal["curated"]
    path: Path
    origin: OriginConfig
    enrich: bool = True  # fill in title/excerpt from the page for URL-only items
    tags: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"curated items in {self.path}" + _enrich_note(self.enrich)


class CsvSource(SourceBase):
    """A CSV file or published spreadsheet (title, url, excerpt, outlet, date, tags)."""

    type: Literal["csv"]
    url: str | None = None
    path: Path | None = None
    origin: OriginConfig
    enrich: bool = True
    tags: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"CSV: {self.url or self.path}" + _enrich_note(self.enrich)


def _enrich_note(enrich: bool) -> str:
    return ", and the pages of items given as a bare URL" if enrich else ""


class SocialAccount(Strict):
    handle: str
    origin: OriginConfig


class BlueskySource(SourceBase):
    """Posts from Bluesky accounts (getAuthorFeed, no replies, no reposts)."""

    type: Literal["bluesky"]
    accounts: tuple[SocialAccount, ...] = ()
    list_uri: str | None = None
    origin: OriginConfig | None = None  # default origin for list members
    service: str = "https://public.api.bsky.app"
    # A folder of recorded AppView answers (<method>/<actor>.json) read instead of the
    # service: for demos and offline tests, no network
    recorded: Path | None = None
    max_posts: int = 50
    tags: tuple[str, ...] = ()


class XSource(SourceBase):
    """Posts from X accounts; opt-in because every read costs money."""

    type: Literal["x"]
    accounts: tuple[SocialAccount, ...]
    bearer_token: SecretRef
    enabled: bool = False
    max_posts: int = 20
    tags: tuple[str, ...] = ()


class Selection(Strict):
    """Which collected items a format draws on; empty lists mean 'any'."""

    sources: tuple[str, ...] = ()
    kinds: tuple[OriginKind, ...] = ()
    tags: tuple[str, ...] = ()
    # Series posts: titles starting with one of these (case-insensitive), or matching
    # this regular expression, e.g. "^Service & Solidarity Spotlight:".
    title_prefixes: tuple[str, ...] = ()
    title_pattern: str | None = None

    @field_validator("title_pattern")
    @classmethod
    def _check_pattern(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class FormatConfig(Strict):
    """A recurring section: which items, how grouped, ordered and capped, which words."""

    strategy: Literal["list", "grouped", "single", "rotation", "political"]
    title: str
    intro: str = ""
    template: str
    select: Selection = Selection()
    group_by: Literal["origin", "state"] | None = None
    limit: int | None = None
    per_group_limit: int | None = None
    data: Path | None = None  # rotation/political: the curated data file
    call_to_action: str | None = None
    # A series' boilerplate opening sentence(s), dropped from the start of each
    # excerpt and story ("Working people across the United States regularly step up…").
    strip_lead: tuple[str, ...] = ()


class Approval(Strict):
    reviewers: tuple[str, ...]
    lead_time: Duration = timedelta(hours=2)
    on_timeout: Literal["send", "hold"] = "hold"


class SocialImage(Strict):
    """An image for a social post; alt text is required (screen readers read it)."""

    url: str
    alt: str

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("alt")
    @classmethod
    def _check_alt(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("alt text is required: describe the image for screen readers")
        return value.strip()


class SocialPlan(Strict):
    """How a newsletter is announced on Bluesky and X.

    ``shape``: ``link_card`` (one post: the edition's headline and its link card; the
    default), ``thread`` (that post, then one reply per section), or ``per_item`` (each
    story is its own post with its own link card: a single-story format like the
    Spotlight). ``max_posts`` caps the posts per platform (the platform's own cap
    applies too); what does not fit is named in the dry run and the run report.
    """

    shape: Literal["link_card", "thread", "per_item"] = "link_card"
    hashtags: tuple[str, ...] = ()
    max_posts: int | None = Field(default=None, ge=1)
    image: SocialImage | None = None  # the link card's image when the lead story has none

    @field_validator("hashtags")
    @classmethod
    def _check_hashtags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        tags = tuple(tag.strip().lstrip("#＃") for tag in value)
        bad = [tag for tag in tags if not tag or any(c.isspace() for c in tag)]
        if bad:
            raise ValueError(f"a hashtag is one word without spaces: {', '.join(map(repr, bad))}")
        return tags


class NewsletterConfig(Strict):
    """One newsletter: a schedule, the formats it carries, its audience and channels."""

    title: str
    description: str = ""
    subject: str = "{title}: {date}"
    schedule: str
    timezone: str = "UTC"
    period: Duration = timedelta(days=7)
    formats: tuple[str, ...]
    audience: str | None = None  # subscriber list name; defaults to the newsletter's id
    channels: tuple[str, ...] = ("email",)
    send_empty: bool = False
    grace: Duration = timedelta(hours=6)
    approval: Approval | None = None
    social: SocialPlan = SocialPlan()

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, value: str) -> str:
        parse_schedule(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone '{value}' (use an IANA name like America/New_York)"
            ) from None
        return value


class MaildirChannel(EmailChannel):
    """Email into a Maildir outbox (the embedded default)."""

    type: Literal["maildir"]
    path: Path = Path("out/outbox")
    give_up_after: Duration = timedelta(days=3)  # an edition's deadline for deferred copies


class SmtpChannel(EmailChannel):
    """Email through an SMTP relay or ESP."""

    type: Literal["smtp"]
    host: str
    port: int = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    ca_file: Path | None = None  # PEM CA bundle to trust instead of the system's (private CA)
    username: SecretRef | None = None
    password: SecretRef | None = None
    pool_size: int = 4
    rate_per_second: float | None = None
    rate_per_hour: float | None = None
    return_path: str | None = None  # a fixed bounce address; VERP when it holds '{token}'
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    dkim_private_key: SecretRef | None = None
    timeout: float = 30.0
    retry_delay: float = 60.0  # seconds before the first retry after a 4xx; then ~ the age
    max_retry_delay: float = 3600.0  # the longest wait between two tries of one copy
    give_up_after: Duration = timedelta(days=3)  # an edition's deadline for deferred copies
    # Deprecated, accepted and ignored: only a permanent answer or the deadline ends a
    # delivery now, and copies are claimed one per connection, not in batches.
    max_attempts: int | None = None
    batch_size: int | None = None


class SocialOutboxChannel(SocialChannel):
    """Social posts written to JSON files instead of posted (dry run)."""

    type: Literal["outbox"]
    posts_for: str = Field(alias="platform")
    path: Path = Path("out/social")

    @field_validator("posts_for")
    @classmethod
    def _known_platform(cls, value: str) -> str:
        known = social_platforms()
        if value not in known:
            expected = " or ".join(f"'{name}'" for name in known)
            raise ValueError(f"'{value}' is not allowed; expected {expected}")
        return value

    @property
    def platform(self) -> str:
        return self.posts_for


class BlueskyChannel(SocialChannel):
    type: Literal["bluesky"]
    handle: str
    app_password: SecretRef
    service: str = "https://bsky.social"
    session_file: Path = Path("out/state/bluesky-session")
    langs: tuple[str, ...] = ("en",)


class XChannel(SocialChannel):
    type: Literal["x"]
    consumer_key: SecretRef
    consumer_secret: SecretRef
    access_token: SecretRef
    access_token_secret: SecretRef


def social_platforms() -> list[str]:
    """The platforms a social channel can post to: every registered social channel's
    type except the outbox, which writes posts for one of them."""
    return [
        name
        for name, cls in ChannelBase.registry.items()
        if issubclass(cls, SocialChannel) and cls is not SocialOutboxChannel
    ]


class StoreConfig(Strict):
    url: str = "sqlite:///out/digest.db"


class WebConfig(Strict):
    host: str = "127.0.0.1"
    port: int = 8000
    staff_password_hash: SecretRef | None = None
    # Addresses (or networks) of reverse proxies whose X-Forwarded-For / -Proto are
    # believed; nobody's by default, so no client can choose its own address.
    trusted_proxies: list[str] = []

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        import ipaddress

        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"'{entry}' is not an IP address or network (e.g. 127.0.0.1 or 10.0.0.0/8)"
                ) from None
        return value


class ReachConfig(Strict):
    """What digest counts of an edition's readers (docs/reach.md says it in plain words).

    ``aggregate`` (the default) sends the email's links through the web app's redirect with
    an id per edition and link, never per person: staff see how often each story was opened,
    not who opened it. ``per_subscriber`` also records who clicked, for organisations that
    turn it on; each subscriber can switch it off on their preferences page. ``off`` leaves
    every link as it is. Opens are never tracked.
    """

    clicks: Literal["off", "aggregate", "per_subscriber"] = "aggregate"
    # a reader's link scanner opens every link of a message within seconds of delivery
    burst_links: int = 3
    burst_seconds: float = 2.0
    # where posted Bluesky parts' likes, reposts, replies and quotes are read back (free)
    bluesky_appview: str = "https://public.api.bsky.app"


class Settings(Strict):
    """The whole of config.yaml."""

    organization: Organization
    signing_key: SecretRef | None = None
    # keys that signed links already mailed: still honoured, never used to sign
    signing_keys_old: SecretRef | None = None
    store: StoreConfig = StoreConfig()
    output_dir: Path = Path("out")
    templates_dir: Path | None = None
    network: NetworkConfig = NetworkConfig()
    sources: dict[str, SourceBase]
    formats: dict[str, FormatConfig]
    newsletters: dict[str, NewsletterConfig]
    channels: dict[str, ChannelBase] = {}
    web: WebConfig = WebConfig()
    reach: ReachConfig = ReachConfig()

    @field_validator("sources", "channels", mode="wrap")
    @classmethod
    def _by_type(cls, value: Any, handler: Any, info: ValidationInfo) -> Any:
        """Each entry validated by the class registered for its ``type``."""
        del handler  # the registered classes validate it, not the base class
        return validate_registered(
            SourceBase if info.field_name == "sources" else ChannelBase, value
        )

    # Where config.yaml lives: relative paths in it are relative to this folder.
    base_dir: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _anchor_sqlite_path(cls, data: Any) -> Any:
        """A relative SQLite path is relative to config.yaml, like every other path."""
        if not isinstance(data, dict):
            return data
        store = data.get("store")
        if not isinstance(store, dict):
            return data
        url = store.get("url")
        prefix = "sqlite:///"
        if isinstance(url, str) and url.startswith(prefix) and not url.startswith(prefix + "/"):
            rest = url.removeprefix(prefix)
            if rest and not rest.startswith(":memory:"):
                anchored = Path(data.get("base_dir", ".")) / rest
                data = {**data, "store": {**store, "url": f"{prefix}{anchored}"}}
        return data

    def resolve_path(self, path: Path) -> Path:
        return path if path.is_absolute() else (self.base_dir / path)

    @property
    def out_dir(self) -> Path:
        return self.resolve_path(self.output_dir)

    def channel_names(self, newsletter: str, kind: type[ChannelBase]) -> list[str]:
        """The newsletter's channels of one kind (EmailChannel, SocialChannel), in order."""
        names = self.newsletters[newsletter].channels
        return [name for name in names if isinstance(self.channels.get(name), kind)]

    def audience_of(self, newsletter: str) -> str:
        return self.newsletters[newsletter].audience or newsletter

    def signing_secret(self) -> str:
        """The current signing key's text (for HMACs that carry no key id, e.g. VERP)."""
        return self.signing_keys().current

    def signing_keys(self) -> SigningKeys:
        """The key that signs tokens and cookies, and older keys still honoured.

        Without one configured, the public demo key (see digest.signing): commands that
        face real people refuse to run with it.
        """
        if self.signing_key is None or not self.signing_key.is_set():
            return SigningKeys.demo(self.organization.site_url)
        old = self.signing_keys_old
        older = parse_old_keys(old.resolve()) if old is not None and old.is_set() else ()
        return SigningKeys(self.signing_key.resolve(), old=older)

    @property
    def signing_key_variable(self) -> str | None:
        return self.signing_key.var if self.signing_key is not None else None


def config_warnings(settings: Settings, now: datetime) -> list[str]:
    """Things that are valid but probably not meant: reported, not refused."""
    warnings = []
    for name, newsletter in settings.newsletters.items():
        spec = parse_schedule(newsletter.schedule)
        gaps = skipped_local_times(spec, newsletter.timezone, now)
        if gaps:
            first = gaps[0]
            warnings.append(
                f"newsletters.{name}.schedule: {first:%H:%M} does not exist on "
                f"{first:%Y-%m-%d} in {newsletter.timezone} (the clocks spring forward), so "
                "that run would be skipped; choose a time outside the changeover hour"
            )
    return warnings


def load_config(path: str | Path) -> Settings:
    """Read, parse and validate config.yaml; raise ConfigError listing every problem."""
    path = Path(path)
    if not path.exists():
        raise ConfigError([f"{path}: file not found (run 'digest init DIR' to create one)"])
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{path}: not valid YAML at {where}: {problem}"]) from None
    if not isinstance(raw, dict):
        raise ConfigError([f"{path}: expected a mapping of settings at the top level"])
    return validate_config(raw, base_dir=path.parent.resolve())


def validate_config(raw: dict[str, Any], base_dir: Path = Path(".")) -> Settings:
    problems = literal_secret_problems(raw)
    settings: Settings | None = None
    try:
        settings = Settings.model_validate({**raw, "base_dir": base_dir})
    except ValidationError as exc:
        problems.extend(describe_error(error, raw, Settings) for error in exc.errors())
    problems.extend(reference_problems(raw))
    if settings is not None:
        problems.extend(_model_problems(settings))
    else:  # no settings to check files on: check them on the raw mapping (one pass)
        from digest.config_files import raw_file_problems

        problems.extend(raw_file_problems(raw, base_dir))
    if problems:
        raise ConfigError(sorted(set(problems), key=problems.index))
    assert settings is not None
    return settings


def _model_problems(settings: Settings) -> list[str]:
    """Checks that need valid sections: strategy options, files and folders."""
    problems: list[str] = []
    for name, fmt_config in settings.formats.items():
        problems.extend(_format_problems(name, fmt_config, settings))
    for name, source in settings.sources.items():
        problems.extend(_source_location_problems(name, source, settings))
    for name, newsletter in settings.newsletters.items():
        problems.extend(_social_account_problems(name, newsletter, settings))
    for name, channel in settings.channels.items():
        problems.extend(_clear_text_credentials(name, channel))
    return problems


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _clear_text_credentials(name: str, channel: Any) -> list[str]:
    """A password over an unencrypted connection is readable on the wire; only a relay on
    this machine (loopback) may take one without TLS."""
    if not isinstance(channel, SmtpChannel) or channel.security != "none":
        return []
    if channel.username is None and channel.password is None:
        return []
    if channel.host in LOOPBACK_HOSTS:
        return []
    return [
        f"channels.{name}.security: 'none' would send the SMTP password unencrypted to "
        f"{channel.host}; use starttls or tls"
    ]


def _social_account_problems(
    name: str, newsletter: NewsletterConfig, settings: Settings
) -> list[str]:
    """One Bluesky and one X account per newsletter: the post ledger is keyed by platform."""
    by_platform: dict[str, list[str]] = {}
    for channel_name in dict.fromkeys(newsletter.channels):
        channel = settings.channels.get(channel_name)
        if isinstance(channel, BlueskyChannel | XChannel):
            by_platform.setdefault(channel.type, []).append(channel_name)
    problems = []
    for platform, names in by_platform.items():
        if len(names) > 1:
            listed = ", ".join(f"'{n}'" for n in names[:-1]) + f" and '{names[-1]}'"
            every = "both" if len(names) == 2 else "all"
            problems.append(
                f"newsletters.{name}.channels: {listed} {every} post to {platform}; a newsletter "
                f"can post to one {platform} account (its posts are recorded per edition, "
                "platform and part), so keep one"
            )
    return problems


def _format_problems(name: str, fmt: FormatConfig, settings: Settings) -> list[str]:
    problems: list[str] = []
    if fmt.strategy == "grouped" and fmt.group_by is None:
        problems.append(
            f"formats.{name}.group_by: required for strategy 'grouped' (origin or state)"
        )
    if fmt.strategy in ("rotation", "political") and fmt.data is None:
        problems.append(
            f"formats.{name}.data: required for strategy '{fmt.strategy}' (a YAML file)"
        )
    elif fmt.data is not None and not settings.resolve_path(fmt.data).exists():
        problems.append(f"formats.{name}.data: file not found: {fmt.data}")
    return problems


def _source_location_problems(name: str, source: Any, settings: Settings) -> list[str]:
    if isinstance(source, (FeedSource, CsvSource)):
        if (source.url is None) == (source.path is None):
            return [f"sources.{name}: give exactly one of 'url' or 'path'"]
        if source.url is not None and not source.url.startswith(("http://", "https://")):
            return [f"sources.{name}.url: must start with http:// or https://"]
        if source.path is not None and not settings.resolve_path(source.path).exists():
            return [f"sources.{name}.path: file not found: {source.path}"]
    if isinstance(source, CuratedSource) and not settings.resolve_path(source.path).is_dir():
        return [f"sources.{name}.path: folder not found: {source.path}"]
    if isinstance(source, BlueskySource) and not source.accounts and not source.list_uri:
        return [f"sources.{name}: give 'accounts' or 'list_uri'"]
    return []
