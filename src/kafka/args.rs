//! The flags every tool that talks to Kafka shares, and the librdkafka configuration they build.
//!
//! Settings are layered, later ones winning: the tool's own defaults, then `--kafka-config-file`
//! (`key=value` lines, for secrets that must not appear in argv or `ps`), then the secret
//! environment variables below, then `-X key=value` (kcat's convention: anything librdkafka
//! accepts, SASL and TLS settings included).
//!
//! Secret environment variables: `LOGSPHERE_KAFKA_SASL_USERNAME`, `LOGSPHERE_KAFKA_SASL_PASSWORD`,
//! `LOGSPHERE_KAFKA_SSL_KEY_PASSWORD` set `sasl.username`, `sasl.password`, `ssl.key.password`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use rdkafka::client::Client;
use rdkafka::{ClientConfig, ClientContext};

use crate::cli::time::parse_duration;

/// Environment variables that carry secrets, and the librdkafka key each one sets.
const SECRET_ENV: [(&str, &str); 3] = [
    ("LOGSPHERE_KAFKA_SASL_USERNAME", "sasl.username"),
    ("LOGSPHERE_KAFKA_SASL_PASSWORD", "sasl.password"),
    ("LOGSPHERE_KAFKA_SSL_KEY_PASSWORD", "ssl.key.password"),
];

/// Where the brokers are and how to talk to them.
#[derive(Debug, Clone, Args)]
pub struct BrokerArgs {
    /// Kafka bootstrap servers, host:port[,host:port...].
    #[arg(long, env = "LOGSPHERE_BROKERS", value_name = "HOST:PORT,...")]
    pub brokers: Option<String>,

    /// A librdkafka setting, e.g. -X compression.codec=zstd -X security.protocol=SASL_SSL (repeatable; overrides the defaults and the config file).
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = parse_setting)]
    pub settings: Vec<(String, String)>,

    /// A file of librdkafka settings, one key=value per line (# comments): the place for secrets.
    #[arg(long, env = "LOGSPHERE_KAFKA_CONFIG_FILE", value_name = "FILE")]
    pub kafka_config_file: Option<PathBuf>,

    /// How long to wait at start for a broker to answer before giving up (later outages are waited out).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
}

impl Default for BrokerArgs {
    fn default() -> BrokerArgs {
        BrokerArgs {
            brokers: None,
            settings: Vec::new(),
            kafka_config_file: None,
            connect_timeout: Duration::from_secs(30),
        }
    }
}

impl BrokerArgs {
    /// Arguments for `brokers` with nothing else set (library users and tests).
    pub fn new(brokers: &str) -> BrokerArgs {
        BrokerArgs {
            brokers: Some(brokers.to_string()),
            ..BrokerArgs::default()
        }
    }

    /// Fails with one clear line when no broker of `config` answers within `--connect-timeout`.
    pub(crate) fn ensure_reachable<C: ClientContext>(
        &self,
        client: &Client<C>,
        config: &ClientConfig,
    ) -> Result<()> {
        let brokers = config.get("bootstrap.servers").unwrap_or_default();
        super::ensure_reachable(client, brokers, self.connect_timeout)
    }

    /// True when the user named brokers (or a config file that may name them).
    pub fn given(&self) -> bool {
        self.brokers.is_some()
            || self.kafka_config_file.is_some()
            || self.settings.iter().any(|(k, _)| k == "bootstrap.servers")
    }

    /// The client configuration: `defaults`, then the config file, the secret environment
    /// variables and the `-X` settings on top.
    pub fn client_config(&self, defaults: &[(&str, &str)]) -> Result<ClientConfig> {
        let mut config = ClientConfig::new();
        for (key, value) in defaults {
            config.set(*key, *value);
        }
        if let Some(brokers) = &self.brokers {
            config.set("bootstrap.servers", brokers);
        }
        if let Some(path) = &self.kafka_config_file {
            for (key, value) in read_config_file(path)? {
                config.set(key, value);
            }
        }
        for (var, key) in SECRET_ENV {
            if let Ok(value) = std::env::var(var) {
                config.set(key, value);
            }
        }
        for (key, value) in &self.settings {
            config.set(key, value);
        }
        if config.get("bootstrap.servers").is_none() {
            bail!("no Kafka brokers given: pass --brokers HOST:PORT or set LOGSPHERE_BROKERS");
        }
        // librdkafka's own log lines go through the `log` facade to our stderr logger. Its
        // `debug` contexts (`-X debug=msg,...`) log at debug level: asked for, they are let
        // through (and shown with -vv).
        config.set_log_level(match config.get("debug") {
            Some(_) => rdkafka::config::RDKafkaLogLevel::Debug,
            None => rdkafka::config::RDKafkaLogLevel::Warning,
        });
        Ok(config)
    }
}

/// Parses one `key=value` setting.
fn parse_setting(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        _ => Err(format!("expected KEY=VALUE, got {arg:?}")),
    }
}

/// Reads `key=value` lines; blank lines and lines starting with `#` are skipped.
fn read_config_file(path: &Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the Kafka config file {}", path.display()))?;
    let mut settings = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = parse_setting(line)
            .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), n + 1))?;
        settings.push((key, value.trim().to_string()));
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use rdkafka::config::RDKafkaLogLevel;

    use super::*;

    #[test]
    fn later_layers_win_and_files_carry_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kafka.conf");
        std::fs::write(
            &file,
            "# secrets\nsasl.password=s3cret\n\nlinger.ms=7\nacks = 1\n",
        )
        .unwrap();
        let args = BrokerArgs {
            brokers: Some("b:9092".into()),
            settings: vec![("linger.ms".into(), "9".into())],
            kafka_config_file: Some(file),
            ..BrokerArgs::default()
        };
        let config = args
            .client_config(&[("linger.ms", "5"), ("acks", "all")])
            .unwrap();
        assert_eq!(config.get("bootstrap.servers"), Some("b:9092"));
        assert_eq!(config.get("sasl.password"), Some("s3cret"));
        assert_eq!(config.get("linger.ms"), Some("9"));
        assert_eq!(config.get("acks"), Some("1"));
    }

    #[test]
    fn librdkafka_debug_lines_come_through_when_asked_for() {
        let args = |settings: Vec<(String, String)>| BrokerArgs {
            brokers: Some("b:9092".into()),
            settings,
            ..BrokerArgs::default()
        };
        let quiet = args(vec![]).client_config(&[]).unwrap();
        assert!(matches!(quiet.log_level, RDKafkaLogLevel::Warning));
        let debug = args(vec![("debug".into(), "msg".into())]);
        let debug = debug.client_config(&[]).unwrap();
        assert!(matches!(debug.log_level, RDKafkaLogLevel::Debug));
    }

    #[test]
    fn settings_must_be_key_value() {
        assert!(parse_setting("acks=all").is_ok());
        assert_eq!(parse_setting("a=b=c").unwrap().1, "b=c");
        assert!(parse_setting("acks").is_err());
        assert!(parse_setting("=x").is_err());
        assert!(BrokerArgs::default().client_config(&[]).is_err());
    }
}
