//! `mpcvm keygen`: a party's TLS key and self-signed certificate.
//!
//! Writes `DIR/partyI.key` (the private key, readable by its owner only) and
//! `DIR/partyI.crt` (the certificate, named `partyI`, to hand to every party). An
//! existing key is never overwritten without `--force`: it may be the one the other
//! parties' configs already pin.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::{print, CliError};

/// Write a party's TLS private key and self-signed certificate
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The party the key is for: its position in parties.toml, from 0
    #[arg(long)]
    pub party: u32,
    /// The folder to write `partyI.key` and `partyI.crt` into (created if missing)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Replace an existing key (the other parties must then get the new certificate)
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let (key_path, cert_path) = write(&args)?;
    let party = args.party;
    print(&format!(
        "wrote {key} (party {party}'s private key: keep it on party {party}'s machine)\n\
         wrote {cert} (its certificate: give it to every party)\n\
         in parties.toml, under party {party}'s [[party]]:\n  \
         cert = \"{cert}\"\n  \
         key = \"{key}\"\n",
        key = key_path.display(),
        cert = cert_path.display(),
    ))
}

/// Writes the two files; returns their paths.
fn write(args: &Args) -> Result<(PathBuf, PathBuf), CliError> {
    let name = mpc_vm::net::tls::party_name(args.party);
    let key_path = args.out.join(format!("{name}.key"));
    let cert_path = args.out.join(format!("{name}.crt"));
    let write_error = |path: &Path| {
        let path = path.to_owned();
        move |source| CliError::WriteFile { path, source }
    };
    if !args.force && key_path.exists() {
        return Err(CliError::Refused(format!(
            "`{}` exists: it may be the key the other parties know this party by. \
             Use --force to replace it (then give every party the new certificate)",
            key_path.display()
        )));
    }
    let (key, cert) = mpc_vm::net::tls::generate(args.party).map_err(CliError::Refused)?;
    std::fs::create_dir_all(&args.out).map_err(write_error(&args.out))?;
    write_private(&key_path, key.as_bytes(), args.force).map_err(write_error(&key_path))?;
    std::fs::write(&cert_path, cert).map_err(write_error(&cert_path))?;
    Ok((key_path, cert_path))
}

/// Writes `bytes` to a new file only its owner can read (mode 0600 on Unix); with
/// `replace`, an existing file is truncated and its mode set to 0600 first.
fn write_private(path: &Path, bytes: &[u8], replace: bool) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if replace {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        // `mode` applies only to a file this call creates.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        write_and_sync(file, bytes)
    }
    #[cfg(not(unix))]
    {
        write_and_sync(options.open(path)?, bytes)
    }
}

fn write_and_sync(mut file: std::fs::File, bytes: &[u8]) -> std::io::Result<()> {
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;

    #[test]
    fn keys_are_private_and_never_replaced_silently() {
        let dir = testkit::scratch("keygen");
        let args = Args {
            party: 1,
            out: dir.join("certs"),
            force: false,
        };
        let (key, cert) = write(&args).unwrap();
        assert_eq!(key, dir.join("certs/party1.key"));
        assert_eq!(cert, dir.join("certs/party1.crt"));
        let first = std::fs::read(&key).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let err = write(&args).unwrap_err();
        assert_eq!(err.exit_code(), 1);
        assert!(err.to_string().contains("Use --force"), "{err}");
        assert_eq!(std::fs::read(&key).unwrap(), first);
        write(&Args {
            force: true,
            ..args
        })
        .unwrap();
        assert_ne!(std::fs::read(&key).unwrap(), first);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
