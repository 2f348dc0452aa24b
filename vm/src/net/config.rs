//! `parties.toml`: where the parties of a run listen and who they are (LANGUAGE.md §10).
//!
//! ```toml
//! # tls = true                # the default: TLS 1.3, each party pinned to its `cert`
//! connect_timeout_s = 60      # how long to wait for every party to connect
//! timeout_s = 60              # how long to wait for any one message
//! [[party]]                   # party 0
//! address = "127.0.0.1:7000"
//! cert = "certs/party0.crt"   # relative to this file's folder
//! key = "certs/party0.key"    # read only by party 0 (`mpcvm run --key` overrides it)
//! [[party]]                   # party 1
//! address = "127.0.0.1:7001"
//! cert = "certs/party1.crt"
//! ```
//!
//! Every party uses the same file (a party's `key` need only exist on that party's
//! machine). `mpcvm keygen` writes a key and its certificate. With `tls = false` the
//! parties talk plain TCP and `cert` and `key` are ignored. Addresses are `ip:port`,
//! `[ipv6]:port` or `host:port`; a host name is looked up when connecting, so that a
//! host whose name does not resolve yet is retried like one that is not up yet.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long every party waits for all the others to connect, unless `connect_timeout_s`
/// says otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a party waits for one message of a peer, unless `timeout_s` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The warning the caller prints, once, when a run goes over plain TCP.
pub const PLAIN_TCP_WARNING: &str =
    "warning: tls = false: traffic between the parties is not encrypted or authenticated";

/// The parties of a run and how to reach them.
#[derive(Clone, Debug, PartialEq)]
pub struct PartiesConfig {
    /// Whether connections use TLS. When they do, every party has a `cert`.
    pub tls: bool,
    /// The parties, in id order.
    pub parties: Vec<PartyAddress>,
    /// How long to wait for every party to connect.
    pub connect_timeout: Duration,
    /// How long to wait for one message of a peer.
    pub timeout: Duration,
}

/// One `[[party]]` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartyAddress {
    /// Where the party listens and the others dial it: `host:port`.
    pub address: String,
    /// The party's certificate, resolved against the config file's folder.
    pub cert: Option<PathBuf>,
    /// The party's private key, resolved likewise; only the party itself reads it.
    pub key: Option<PathBuf>,
}

/// A `parties.toml` that cannot be used. The message names the file and the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{}`: {message}", file.display())]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// What is wrong, naming the field.
    pub message: String,
}

const TOP_LEVEL_KEYS: &str = "`tls`, `connect_timeout_s`, `timeout_s` or `[[party]]`";

impl PartiesConfig {
    /// A config without TLS for `addresses` (party `p` at `addresses[p]`), with the
    /// default timeouts. Addresses are not checked: for tests and tools that build a
    /// config in code.
    pub fn plain<S: Into<String>>(addresses: impl IntoIterator<Item = S>) -> PartiesConfig {
        PartiesConfig {
            tls: false,
            parties: addresses
                .into_iter()
                .map(|a| PartyAddress {
                    address: a.into(),
                    cert: None,
                    key: None,
                })
                .collect(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The number of parties.
    pub fn parties(&self) -> u32 {
        // `parse` refuses more than MAX_PARTIES, which fits a u32.
        self.parties.len() as u32
    }

    /// Reads the contents of the config file `file` (named in errors, and the folder
    /// certificates are found in). A config that asks for TLS (as one does that does not
    /// mention `tls`) must give every party a `cert`; the files are read when connecting
    /// ([`crate::net::tls::Identity::load`]).
    pub fn parse(bytes: &[u8], file: &Path) -> Result<PartiesConfig, ConfigError> {
        let error = |message: String| ConfigError {
            file: file.to_owned(),
            message,
        };
        let text = std::str::from_utf8(bytes)
            .map_err(|e| error(format!("not UTF-8 text (at byte {})", e.valid_up_to())))?;
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let place = e
                .span()
                .map(|span| {
                    let (line, column) = line_column(text, span.start);
                    format!("line {line}, column {column}: ")
                })
                .unwrap_or_default();
            error(format!("{place}{}", e.message().trim_end()))
        })?;
        let folder = file.parent().unwrap_or(Path::new(""));
        from_table(&table, folder).map_err(error)
    }
}

/// The 1-based line and column (in characters) of byte `offset` of `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    // toml's spans fall on character boundaries; `get` keeps a bad one from panicking.
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

fn from_table(table: &toml::Table, folder: &Path) -> Result<PartiesConfig, String> {
    if let Some(key) = table.keys().find(|k| {
        !matches!(
            k.as_str(),
            "tls" | "connect_timeout_s" | "timeout_s" | "party"
        )
    }) {
        return Err(format!("unknown field `{key}` (expected {TOP_LEVEL_KEYS})"));
    }
    let tls = match table.get("tls") {
        None => true,
        Some(toml::Value::Boolean(b)) => *b,
        Some(v) => return Err(format!("`tls` must be true or false, not {}", describe(v))),
    };
    let connect_timeout = seconds_field(table, "connect_timeout_s", DEFAULT_CONNECT_TIMEOUT)?;
    let timeout = seconds_field(table, "timeout_s", DEFAULT_TIMEOUT)?;

    let entries =
        match table.get("party") {
            None => &Vec::new(),
            Some(toml::Value::Array(entries)) => entries,
            Some(toml::Value::Table(_)) => return Err(
                "`party` must be a list of tables: write each party as `[[party]]`, not `[party]`"
                    .to_string(),
            ),
            Some(v) => {
                return Err(format!(
                    "`party` must be a list of `[[party]]` tables, not {}",
                    describe(v)
                ))
            }
        };
    if entries.len() < 2 {
        return Err(format!(
            "a run needs at least 2 parties, but the file lists {} (one `[[party]]` table each)",
            entries.len()
        ));
    }
    if entries.len() > mpc_bytecode::format::MAX_PARTIES as usize {
        return Err(format!(
            "a run has at most {} parties, but the file lists {}",
            mpc_bytecode::format::MAX_PARTIES,
            entries.len()
        ));
    }

    let mut parties = Vec::with_capacity(entries.len());
    // Normalized address → the party that has it, to refuse two parties on one address.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (id, entry) in entries.iter().enumerate() {
        let party = party_entry(entry, folder).map_err(|m| format!("party {id}: {m}"))?;
        let key = normalized_address(&party.address);
        if let Some(first) = seen.insert(key, id) {
            return Err(format!(
                "party {id}: `address` {} is also the address of party {first}",
                party.address
            ));
        }
        parties.push(party);
    }
    if tls {
        if let Some(id) = parties.iter().position(|p| p.cert.is_none()) {
            return Err(no_cert_message(id, table.contains_key("tls")));
        }
    }
    Ok(PartiesConfig {
        tls,
        parties,
        connect_timeout,
        timeout,
    })
}

/// Why a TLS config without a certificate for party `id` is refused, and what to do.
fn no_cert_message(id: usize, explicit: bool) -> String {
    let tls = if explicit {
        "`tls = true`"
    } else {
        "TLS (the default when `tls` is not given)"
    };
    format!(
        "party {id}: {tls} needs a `cert` for every party, but party {id} has none. \
         Run `mpcvm keygen --party {id} --out DIR` on party {id}'s machine and add \
         `cert = \"DIR/party{id}.crt\"` to its `[[party]]` entry (and `key = \"DIR/party{id}.key\"` \
         in party {id}'s own copy), or set `tls = false` to run over plain TCP, on a trusted \
         network only"
    )
}

fn party_entry(entry: &toml::Value, folder: &Path) -> Result<PartyAddress, String> {
    let toml::Value::Table(entry) = entry else {
        return Err(format!(
            "each `[[party]]` must be a table, not {}",
            describe(entry)
        ));
    };
    if let Some(key) = entry
        .keys()
        .find(|k| !matches!(k.as_str(), "address" | "cert" | "key"))
    {
        return Err(format!(
            "unknown field `{key}` (expected `address`, `cert` or `key`)"
        ));
    }
    let address = match entry.get("address") {
        None => return Err("missing `address` (e.g. `address = \"10.0.0.1:7000\"`)".into()),
        Some(toml::Value::String(s)) => s.trim().to_string(),
        Some(v) => return Err(format!("`address` must be a string, not {}", describe(v))),
    };
    check_address(&address).map_err(|m| format!("`address` \"{address}\": {m}"))?;
    let path = |field: &str, what: &str| match entry.get(field) {
        None => Ok(None),
        Some(toml::Value::String(s)) if !s.is_empty() => Ok(Some(folder.join(s))),
        Some(v) => Err(format!(
            "`{field}` must be the path of {what}, not {}",
            describe(v)
        )),
    };
    let cert = path("cert", "a certificate file (PEM)")?;
    let key = path("key", "a private key file (PEM)")?;
    Ok(PartyAddress { address, cert, key })
}

/// Checks that `address` is `ip:port`, `[ipv6]:port` or `host:port` with a plausible
/// host name and a port other than 0 (which no one can dial).
fn check_address(address: &str) -> Result<(), String> {
    if let Ok(addr) = address.parse::<SocketAddr>() {
        return if addr.port() == 0 {
            Err("port 0 cannot be dialed: give the port the party listens on".into())
        } else {
            Ok(())
        };
    }
    let Some((host, port)) = address.rsplit_once(':') else {
        return Err("not host:port (e.g. \"10.0.0.1:7000\")".into());
    };
    if host.contains(':') {
        return Err("an IPv6 address needs brackets (e.g. \"[::1]:7000\")".into());
    }
    match port.parse::<u16>() {
        Ok(0) => return Err("port 0 cannot be dialed: give the port the party listens on".into()),
        Ok(_) => {}
        Err(_) => return Err(format!("the port `{port}` is not a number from 1 to 65535")),
    }
    let valid_host = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if valid_host {
        Ok(())
    } else {
        Err(format!("`{host}` is not an IP address or a host name"))
    }
}

/// The form in which two spellings of one address compare equal (`LOCALHOST:1` and
/// `localhost:1`; `[::1]:1` and `[0::1]:1`).
fn normalized_address(address: &str) -> String {
    match address.parse::<SocketAddr>() {
        Ok(addr) => addr.to_string(),
        Err(_) => address.to_ascii_lowercase(),
    }
}

/// A week: a longer timeout is surely a typo, and `Duration` and `Instant` arithmetic
/// stay far from overflow below it.
const MAX_TIMEOUT_S: f64 = 7.0 * 24.0 * 3600.0;

fn seconds_field(table: &toml::Table, key: &str, default: Duration) -> Result<Duration, String> {
    let seconds = match table.get(key) {
        None => return Ok(default),
        Some(toml::Value::Integer(i)) => *i as f64,
        Some(toml::Value::Float(f)) => *f,
        Some(v) => {
            return Err(format!(
                "`{key}` must be a number of seconds, not {}",
                describe(v)
            ))
        }
    };
    // A zero timeout would mean "never wait" to some calls and "wait forever" to others.
    if seconds.is_nan() || seconds <= 0.0 {
        return Err(format!(
            "`{key}` must be a positive number of seconds, not {seconds}"
        ));
    }
    if seconds > MAX_TIMEOUT_S {
        return Err(format!(
            "`{key}` must be at most {MAX_TIMEOUT_S} seconds (a week)"
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn describe(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("the string \"{s}\""),
        toml::Value::Integer(i) => format!("the integer {i}"),
        toml::Value::Float(f) => format!("the number {f}"),
        toml::Value::Boolean(b) => format!("{b}"),
        other => format!("a {}", other.type_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<PartiesConfig, String> {
        PartiesConfig::parse(text.as_bytes(), Path::new("conf/parties.toml"))
            .map_err(|e| e.to_string())
    }

    const THREE: &str = r#"
tls = false
[[party]]
address = "127.0.0.1:7000"
[[party]]
address = "localhost:7001"
cert = "certs/p1.pem"
[[party]]
address = "[::1]:7002"
"#;

    #[test]
    fn a_plain_config_lists_the_parties_in_order() {
        let config = parse(THREE).unwrap();
        assert!(!config.tls);
        assert_eq!(config.parties(), 3);
        assert_eq!(config.parties[1].address, "localhost:7001");
        assert_eq!(
            config.parties[1].cert.as_deref(),
            Some(Path::new("conf/certs/p1.pem"))
        );
        assert_eq!(config.parties[2].address, "[::1]:7002");
        assert_eq!(config.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(config.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn timeouts_are_seconds() {
        let config = parse(&format!("connect_timeout_s = 5\ntimeout_s = 0.25\n{THREE}")).unwrap();
        assert_eq!(config.connect_timeout, Duration::from_secs(5));
        assert_eq!(config.timeout, Duration::from_millis(250));
        assert_eq!(
            parse(&format!("timeout_s = 0\n{THREE}")).unwrap_err(),
            "`conf/parties.toml`: `timeout_s` must be a positive number of seconds, not 0"
        );
        assert_eq!(
            parse(&format!("connect_timeout_s = \"60\"\n{THREE}")).unwrap_err(),
            "`conf/parties.toml`: `connect_timeout_s` must be a number of seconds, not the string \"60\""
        );
        assert_eq!(
            parse(&format!("timeout_s = nan\n{THREE}")).unwrap_err(),
            "`conf/parties.toml`: `timeout_s` must be a positive number of seconds, not NaN"
        );
        assert_eq!(
            parse(&format!("timeout_s = 1e300\n{THREE}")).unwrap_err(),
            "`conf/parties.toml`: `timeout_s` must be at most 604800 seconds (a week)"
        );
    }

    const THREE_TLS: &str = r#"
[[party]]
address = "127.0.0.1:7000"
cert = "/abs/party0.crt"
key = "party0.key"
[[party]]
address = "127.0.0.1:7001"
cert = "certs/party1.crt"
[[party]]
address = "127.0.0.1:7002"
cert = "certs/party2.crt"
"#;

    #[test]
    fn tls_is_the_default_and_needs_every_cert() {
        let config = parse(THREE_TLS).unwrap();
        assert!(config.tls);
        assert_eq!(
            config.parties[0].cert.as_deref(),
            Some(Path::new("/abs/party0.crt"))
        );
        assert_eq!(
            config.parties[0].key.as_deref(),
            Some(Path::new("conf/party0.key"))
        );
        assert_eq!(
            config.parties[1].cert.as_deref(),
            Some(Path::new("conf/certs/party1.crt"))
        );
        assert_eq!(config.parties[1].key, None);
        assert!(parse(&format!("tls = true\n{THREE_TLS}")).unwrap().tls);

        let implicit = THREE.replace("tls = false\n", "");
        let err = parse(&implicit).unwrap_err();
        assert!(
            err.starts_with(
                "`conf/parties.toml`: party 0: TLS (the default when `tls` is not given) \
                 needs a `cert` for every party, but party 0 has none. \
                 Run `mpcvm keygen --party 0 --out DIR`"
            ),
            "{err}"
        );
        assert!(
            err.ends_with("or set `tls = false` to run over plain TCP, on a trusted network only"),
            "{err}"
        );
        let explicit = THREE.replace("tls = false", "tls = true");
        let err = parse(&explicit).unwrap_err();
        assert!(
            err.starts_with(
                "`conf/parties.toml`: party 0: `tls = true` needs a `cert` for every party"
            ),
            "{err}"
        );
        assert_eq!(
            parse(&THREE_TLS.replace("cert = \"certs/party2.crt\"", "cert = 2")).unwrap_err(),
            "`conf/parties.toml`: party 2: `cert` must be the path of a certificate file (PEM), not the integer 2"
        );
        assert_eq!(
            parse(&THREE.replace("tls = false", "tls = \"no\"")).unwrap_err(),
            "`conf/parties.toml`: `tls` must be true or false, not the string \"no\""
        );
    }

    #[test]
    fn errors_name_the_party_and_the_field() {
        let cases = [
            (
                THREE.replace("localhost:7001", "localhost"),
                "party 1: `address` \"localhost\": not host:port (e.g. \"10.0.0.1:7000\")",
            ),
            (
                THREE.replace("localhost:7001", "localhost:99999"),
                "party 1: `address` \"localhost:99999\": the port `99999` is not a number from 1 to 65535",
            ),
            (
                THREE.replace("[::1]:7002", "::1:7002"),
                "party 2: `address` \"::1:7002\": an IPv6 address needs brackets (e.g. \"[::1]:7000\")",
            ),
            (
                THREE.replace("localhost:7001", "bad host:7001"),
                "party 1: `address` \"bad host:7001\": `bad host` is not an IP address or a host name",
            ),
            (
                THREE.replace("127.0.0.1:7000", "127.0.0.1:0"),
                "party 0: `address` \"127.0.0.1:0\": port 0 cannot be dialed: give the port the party listens on",
            ),
            (
                THREE.replace("[::1]:7002", "127.0.0.1:7000"),
                "party 2: `address` 127.0.0.1:7000 is also the address of party 0",
            ),
            (
                THREE.replace("localhost:7001", "LocalHost:7001").replace("[::1]:7002", "localhost:7001"),
                "party 2: `address` localhost:7001 is also the address of party 1",
            ),
            (
                THREE.replace("address = \"localhost:7001\"", "adress = \"localhost:7001\""),
                "party 1: unknown field `adress` (expected `address`, `cert` or `key`)",
            ),
            (
                THREE.replace("address = \"localhost:7001\"", "address = 7001"),
                "party 1: `address` must be a string, not the integer 7001",
            ),
            (
                THREE.replace("address = \"localhost:7001\"\n", ""),
                "party 1: missing `address` (e.g. `address = \"10.0.0.1:7000\"`)",
            ),
            (
                format!("parties = 3\n{THREE}"),
                "unknown field `parties` (expected `tls`, `connect_timeout_s`, `timeout_s` or `[[party]]`)",
            ),
            (
                "tls = false\n[party]\naddress = \"127.0.0.1:1\"\n".to_string(),
                "`party` must be a list of tables: write each party as `[[party]]`, not `[party]`",
            ),
            (
                "tls = false\n[[party]]\naddress = \"127.0.0.1:1\"\n".to_string(),
                "a run needs at least 2 parties, but the file lists 1 (one `[[party]]` table each)",
            ),
            (
                "tls = false\n".to_string(),
                "a run needs at least 2 parties, but the file lists 0 (one `[[party]]` table each)",
            ),
        ];
        for (text, message) in cases {
            assert_eq!(
                parse(&text).unwrap_err(),
                format!("`conf/parties.toml`: {message}"),
                "{text}"
            );
        }
    }

    #[test]
    fn syntax_errors_give_the_line_and_column() {
        let err = parse("tls = false\n[[party]]\naddress = 127.0.0.1:7000\n").unwrap_err();
        assert!(
            err.starts_with("`conf/parties.toml`: line 3, column "),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
        let err = PartiesConfig::parse(b"tls = \xff", Path::new("p.toml")).unwrap_err();
        assert_eq!(err.to_string(), "`p.toml`: not UTF-8 text (at byte 6)");
    }
}
