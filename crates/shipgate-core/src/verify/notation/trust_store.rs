//! Notation trust stores: named sets of trusted root certificates, read from PEM or DER files,
//! from a Notation trust-store folder, or the embedded AWS Signer roots.
//!
//! As notation-go does, a certificate that is not a CA must be self-signed (a pinned signing
//! certificate), a named store must hold at least one certificate, and store names follow
//! `[a-zA-Z0-9_.-]+`. Folders are read bounded (64 stores, 64 files a store, 64 KiB a file);
//! a symlink is followed only when its target stays inside the trust-store folder (Kubernetes
//! mounts ConfigMaps and Secrets as symlinks into a `..data` folder).

use std::io::Read as _;
use std::path::{Path, PathBuf};

use super::super::asn1;
use super::super::x509::Cert;
use super::{StoreKind, TrustStores};

/// Most named stores in one [`TrustStores`].
const MAX_STORES: usize = 64;
/// Most certificate files read from one named store folder.
const MAX_FILES: usize = 64;
/// Largest certificate file (or `add_certificates` input).
const MAX_FILE_LEN: usize = 64 * 1024;
/// Most certificates in one file, and in one named store.
const MAX_CERTS_PER_FILE: usize = 64;
const MAX_CERTS_PER_STORE: usize = 256;

/// The store name AWS Signer trust policies use for its roots.
pub(crate) const AWS_SIGNER_STORE: &str = "aws-signer-ts";
const AWS_SIGNER_ROOT: &[u8] = include_bytes!("../../../data/aws-signer-notation-root.pem");
const AWS_SIGNER_GOV_ROOT: &[u8] =
    include_bytes!("../../../data/aws-us-gov-signer-notation-root.pem");

/// Whether `name` is a valid named-store name (`[a-zA-Z0-9_.-]+`, as Notation requires).
pub(super) fn valid_store_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

pub(super) fn add_certificates(
    stores: &mut TrustStores,
    kind: StoreKind,
    name: &str,
    bytes: &[u8],
) -> Result<usize, String> {
    if !valid_store_name(name) {
        return Err(format!(
            "trust store name {name:?} is invalid: it must match [a-zA-Z0-9_.-]+"
        ));
    }
    if bytes.len() > MAX_FILE_LEN {
        return Err("a certificate file is larger than 64 KiB".into());
    }
    let certs = parse_certificates(bytes)?;
    for cert in &certs {
        check_anchor(cert)?;
    }
    let key = (kind, name.to_string());
    if !stores.stores.contains_key(&key) && stores.stores.len() >= MAX_STORES {
        return Err(format!("more than {MAX_STORES} trust stores"));
    }
    let store = stores.stores.entry(key).or_default();
    if store.len() + certs.len() > MAX_CERTS_PER_STORE {
        return Err(format!(
            "trust store {}:{name} would hold more than {MAX_CERTS_PER_STORE} certificates",
            kind.as_str()
        ));
    }
    let n = certs.len();
    store.extend(certs);
    Ok(n)
}

/// The certificates of one file: PEM with one or more `CERTIFICATE` blocks, or one DER.
pub(super) fn parse_certificates(bytes: &[u8]) -> Result<Vec<Cert>, String> {
    let is_pem = bytes.windows(11).any(|w| w == b"-----BEGIN ");
    if !is_pem {
        return Cert::from_der(bytes)
            .map(|c| vec![c])
            .map_err(|e| format!("neither PEM nor a DER certificate: {e}"));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "PEM text is not UTF-8".to_string())?;
    let blocks = asn1::pem_blocks(text, "CERTIFICATE", MAX_CERTS_PER_FILE)?;
    if blocks.is_empty() {
        return Err("no PEM CERTIFICATE block".into());
    }
    blocks.iter().map(|der| Cert::from_der(der)).collect()
}

/// A trust anchor is a CA certificate or a self-signed signing certificate (notation-go
/// refuses anything else, which would be a misconfigured store).
fn check_anchor(cert: &Cert) -> Result<(), String> {
    let is_ca = matches!(cert.basic_constraints(), Ok(Some((_, true, _))));
    if is_ca || cert.is_self_signed() {
        return Ok(());
    }
    Err(format!(
        "certificate {} is neither a CA certificate nor a self-signed signing certificate",
        cert.subject()
    ))
}

pub(super) fn from_dir(dir: &Path) -> Result<TrustStores, String> {
    let root = std::fs::canonicalize(dir)
        .map_err(|e| format!("trust store folder {}: {e}", dir.display()))?;
    if !root.is_dir() {
        return Err(format!("trust store {} is not a folder", dir.display()));
    }
    // Notation's own layout has the stores under `x509/`; accept either folder.
    let has_kinds = ["ca", "signingAuthority", "tsa"]
        .iter()
        .any(|k| root.join(k).exists());
    let base = if !has_kinds && root.join("x509").is_dir() {
        inside(&root, &root.join("x509"))?
    } else {
        root.clone()
    };
    let mut stores = TrustStores::new();
    for kind in [StoreKind::Ca, StoreKind::SigningAuthority, StoreKind::Tsa] {
        let kind_dir = base.join(kind.as_str());
        if !kind_dir.exists() {
            continue;
        }
        let kind_dir = inside(&root, &kind_dir)?;
        for (name, path) in entries(&kind_dir, MAX_STORES)? {
            let path = inside(&root, &path)?;
            if !path.is_dir() {
                return Err(format!(
                    "{} is a file: certificates go in a named store folder {}/NAME/",
                    path.display(),
                    kind_dir.display()
                ));
            }
            read_store(&mut stores, &root, kind, &name, &path)?;
        }
    }
    if stores.stores.is_empty() {
        return Err(format!(
            "no trust store under {}: expected ca/NAME/, signingAuthority/NAME/ or tsa/NAME/ \
             folders of certificates",
            dir.display()
        ));
    }
    Ok(stores)
}

/// Reads the certificate files of one named store folder (sub-folders are ignored, as the
/// Notary Project specification says).
fn read_store(
    stores: &mut TrustStores,
    root: &Path,
    kind: StoreKind,
    name: &str,
    dir: &Path,
) -> Result<(), String> {
    let label = format!("{}:{name}", kind.as_str());
    if !valid_store_name(name) {
        return Err(format!(
            "trust store folder {} has an invalid name: it must match [a-zA-Z0-9_.-]+",
            dir.display()
        ));
    }
    let mut count = 0;
    for (file, path) in entries(dir, MAX_FILES)? {
        let path = inside(root, &path)?;
        if path.is_dir() {
            continue;
        }
        let ext = Path::new(&file)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if !matches!(ext.as_deref(), Some("pem" | "crt" | "cer" | "der")) {
            return Err(format!(
                "{} is not a certificate file (.pem, .crt, .cer or .der) of trust store {label}",
                path.display()
            ));
        }
        let bytes = read_bounded(&path)?;
        count += add_certificates(stores, kind, name, &bytes)
            .map_err(|e| format!("{} (trust store {label}): {e}", path.display()))?;
    }
    if count == 0 {
        return Err(format!(
            "trust store {label} ({}) holds no certificate",
            dir.display()
        ));
    }
    Ok(())
}

/// The visible entries of a folder as `(name, path)`, sorted, at most `max`.
fn entries(dir: &Path, max: usize) -> Result<Vec<(String, PathBuf)>, String> {
    let mut out = Vec::new();
    let read = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in read {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = entry
            .file_name()
            .into_string()
            .map_err(|n| format!("{}: a name that is not UTF-8: {n:?}", dir.display()))?;
        // Hidden entries: Kubernetes' `..data` and `..<timestamp>` folders, editor files.
        if name.starts_with('.') {
            continue;
        }
        if out.len() == max {
            return Err(format!("{} has more than {max} entries", dir.display()));
        }
        out.push((name, entry.path()));
    }
    out.sort();
    Ok(out)
}

/// `path` resolved (symlinks followed); an error when it leaves `root`.
fn inside(root: &Path, path: &Path) -> Result<PathBuf, String> {
    let real = std::fs::canonicalize(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !real.starts_with(root) {
        return Err(format!(
            "{} leads outside the trust store folder {} (symlinks must stay inside it)",
            path.display(),
            root.display()
        ));
    }
    Ok(real)
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_LEN as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() > MAX_FILE_LEN {
        return Err(format!("{} is larger than 64 KiB", path.display()));
    }
    Ok(bytes)
}

pub(super) fn aws_signer(govcloud: bool) -> TrustStores {
    let mut stores = TrustStores::new();
    let kind = StoreKind::SigningAuthority;
    // The embedded roots parse (the tests pin them); were they ever not to, the store would be
    // empty and AWS Signer signatures would fail authenticity: closed, not open.
    let _ = add_certificates(&mut stores, kind, AWS_SIGNER_STORE, AWS_SIGNER_ROOT);
    if govcloud {
        let _ = add_certificates(&mut stores, kind, AWS_SIGNER_STORE, AWS_SIGNER_GOV_ROOT);
    }
    stores
}
