//! The keys that sign: the client's assertion key (in AWS KMS, or a PEM private key as Okta's
//! console generates it) and the per-container DPoP key (ephemeral, never stored).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, MessageType, SigningAlgorithmSpec};
use oauth::Jwk;
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use tokio::sync::OnceCell;

/// Why a key cannot sign. Names the key (its id or where its PEM was read), never its material.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KeyError {
    #[error(
        "the private key from {origin} is not usable ({reason}); store the PEM Okta's console \
         generated (\"-----BEGIN PRIVATE KEY-----\"), an RSA or P-256 key"
    )]
    UnusablePem { origin: String, reason: String },
    #[error(
        "KMS key {key_id} cannot sign client assertions ({reason}); create it with KeyUsage \
         SIGN_VERIFY and KeySpec RSA_2048 (the template's OAuthSigningKey) or ECC_NIST_P256"
    )]
    UnusableKms { key_id: String, reason: String },
    #[error(
        "KMS refused to sign with key {key_id} ({reason}); the function's role needs kms:Sign \
         and kms:GetPublicKey on it, and the key must be enabled"
    )]
    KmsRefused {
        key_id: String,
        reason: String,
        /// Throttling or an outage, not access or the key's state.
        temporary: bool,
    },
    #[error("could not make a signature ({0})")]
    Signing(String),
}

/// The key a client assertion is signed with.
pub enum AssertionKey {
    Kms(KmsKey),
    Pem(PemKey),
}

impl AssertionKey {
    /// The public half as a JWK (what Okta registers for the app).
    pub async fn public_jwk(&self) -> Result<Jwk, KeyError> {
        match self {
            Self::Kms(key) => Ok(key.public().await?.jwk.clone()),
            Self::Pem(key) => Ok(key.jwk.clone()),
        }
    }

    /// Signs `input`; answers the signature in JWS form, for the algorithm of
    /// [`AssertionKey::public_jwk`].
    pub async fn sign(&self, input: &[u8]) -> Result<Vec<u8>, KeyError> {
        match self {
            Self::Kms(key) => key.sign(input).await,
            Self::Pem(key) => key.sign(input),
        }
    }
}

/// An asymmetric KMS key (`SIGN_VERIFY`); its private half never leaves KMS.
pub struct KmsKey {
    kms: aws_sdk_kms::Client,
    key_id: String,
    public: OnceCell<KmsPublic>,
}

struct KmsPublic {
    jwk: Jwk,
    algorithm: SigningAlgorithmSpec,
}

impl KmsKey {
    pub fn new(kms: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        Self {
            kms,
            key_id: key_id.into(),
            public: OnceCell::new(),
        }
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// `GetPublicKey`, once per container: the key's spec decides the algorithm.
    async fn public(&self) -> Result<&KmsPublic, KeyError> {
        self.public
            .get_or_try_init(|| async {
                let answer = self
                    .kms
                    .get_public_key()
                    .key_id(&self.key_id)
                    .send()
                    .await
                    .map_err(|error| kms_refused(&self.key_id, error))?;
                let unusable = |reason: String| KeyError::UnusableKms {
                    key_id: self.key_id.clone(),
                    reason,
                };
                let spki = answer
                    .public_key()
                    .ok_or_else(|| unusable("GetPublicKey returned no key".into()))?
                    .as_ref();
                // `CustomerMasterKeySpec` is the deprecated name of the same field; moto sends only
                // it, and older SDK answers may too.
                #[allow(deprecated)]
                let spec = answer.key_spec().cloned().or_else(|| {
                    answer
                        .customer_master_key_spec()
                        .map(|spec| KeySpec::from(spec.as_str()))
                });
                match spec.as_ref() {
                    Some(KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096) => {
                        let key = aws_lc_rs::rsa::PublicKey::from_der(spki)
                            .map_err(|error| unusable(format!("its public key: {error}")))?;
                        let jwk = Jwk::rsa(
                            key.modulus().big_endian_without_leading_zero(),
                            key.exponent().big_endian_without_leading_zero(),
                        )
                        .map_err(|error| unusable(error.to_string()))?;
                        Ok(KmsPublic {
                            jwk,
                            algorithm: SigningAlgorithmSpec::RsassaPkcs1V15Sha256,
                        })
                    }
                    Some(KeySpec::EccNistP256) => {
                        let jwk = Jwk::p256(p256_point_of_spki(spki).unwrap_or_default())
                            .map_err(|error| unusable(error.to_string()))?;
                        Ok(KmsPublic {
                            jwk,
                            algorithm: SigningAlgorithmSpec::EcdsaSha256,
                        })
                    }
                    other => Err(unusable(format!(
                        "its key spec is {}",
                        other.map_or("unknown", KeySpec::as_str)
                    ))),
                }
            })
            .await
    }

    async fn sign(&self, input: &[u8]) -> Result<Vec<u8>, KeyError> {
        let public = self.public().await?;
        let answer = self
            .kms
            .sign()
            .key_id(&self.key_id)
            .message(Blob::new(input))
            .message_type(MessageType::Raw)
            .signing_algorithm(public.algorithm.clone())
            .send()
            .await
            .map_err(|error| kms_refused(&self.key_id, error))?;
        let signature = answer
            .signature()
            .ok_or_else(|| KeyError::Signing("KMS answered without a signature".into()))?
            .as_ref();
        match public.algorithm {
            // KMS writes ECDSA signatures in DER; JWS wants r || s (RFC 7518 §3.4).
            SigningAlgorithmSpec::EcdsaSha256 => ecdsa_der_to_fixed(signature)
                .ok_or_else(|| KeyError::Signing("KMS's ECDSA signature is not DER".into())),
            _ => Ok(signature.to_vec()),
        }
    }
}

impl KeyError {
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            Self::KmsRefused {
                temporary: true,
                ..
            }
        )
    }
}

/// A KMS error, read for whether asking again can help: access, a missing, disabled or
/// wrong-usage key cannot.
fn kms_refused<E, R>(key_id: &str, error: aws_sdk_kms::error::SdkError<E, R>) -> KeyError
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    const PERMANENT: [&str; 6] = [
        "AccessDeniedException",
        "NotFoundException",
        "DisabledException",
        "KMSInvalidStateException",
        "InvalidKeyUsageException",
        "UnsupportedOperationException",
    ];
    let code = aws_sdk_kms::error::ProvideErrorMetadata::code(&error).map(str::to_owned);
    KeyError::KmsRefused {
        key_id: key_id.into(),
        temporary: !code
            .as_deref()
            .is_some_and(|code| PERMANENT.contains(&code)),
        reason: aws_sdk_kms::error::DisplayErrorContext(error).to_string(),
    }
}

/// A PEM private key (PKCS#8 RSA or P-256, or PKCS#1 RSA), read once per container.
pub struct PemKey {
    signer: PemSigner,
    jwk: Jwk,
}

enum PemSigner {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

impl PemKey {
    /// Reads `pem`; `origin` says where it came from (an SSM parameter's name, a secret's id).
    pub fn parse(pem: &[u8], origin: impl Into<String>) -> Result<Self, KeyError> {
        let origin = origin.into();
        let unusable = |reason: &str| KeyError::UnusablePem {
            origin: origin.clone(),
            reason: reason.into(),
        };
        let der =
            PrivateKeyDer::from_pem_slice(pem).map_err(|_| unusable("no PEM private key in it"))?;
        let signer = match &der {
            PrivateKeyDer::Pkcs8(pkcs8) => RsaKeyPair::from_pkcs8(pkcs8.secret_pkcs8_der())
                .map(PemSigner::Rsa)
                .or_else(|_| {
                    EcdsaKeyPair::from_pkcs8(
                        &ECDSA_P256_SHA256_FIXED_SIGNING,
                        pkcs8.secret_pkcs8_der(),
                    )
                    .map(PemSigner::Ec)
                })
                .map_err(|_| unusable("a PKCS#8 key that is neither RSA nor P-256"))?,
            PrivateKeyDer::Pkcs1(pkcs1) => RsaKeyPair::from_der(pkcs1.secret_pkcs1_der())
                .map(PemSigner::Rsa)
                .map_err(|_| unusable("an RSA key aws-lc rejects"))?,
            _ => return Err(unusable("a SEC1 EC key; convert it to PKCS#8")),
        };
        let jwk = match &signer {
            PemSigner::Rsa(pair) => {
                let public = pair.public_key();
                Jwk::rsa(
                    public.modulus().big_endian_without_leading_zero(),
                    public.exponent().big_endian_without_leading_zero(),
                )
            }
            PemSigner::Ec(pair) => Jwk::p256(pair.public_key().as_ref()),
        }
        .map_err(|error| unusable(&error.to_string()))?;
        Ok(Self { signer, jwk })
    }

    fn sign(&self, input: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        match &self.signer {
            PemSigner::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, input, &mut signature)
                    .map_err(|_| KeyError::Signing("RSA signing failed".into()))?;
                Ok(signature)
            }
            PemSigner::Ec(pair) => pair
                .sign(&rng, input)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| KeyError::Signing("ECDSA signing failed".into())),
        }
    }
}

/// The per-container DPoP key (RFC 9449 §2: a key the client holds, here P-256). It lives only in
/// memory: a new container proves possession of a new key and gets its own token.
pub struct DpopKey {
    pair: EcdsaKeyPair,
    jwk: Jwk,
}

impl DpopKey {
    pub fn generate() -> Result<Self, KeyError> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| KeyError::Signing("could not generate a DPoP key".into()))?;
        let jwk = Jwk::p256(pair.public_key().as_ref())
            .map_err(|error| KeyError::Signing(error.to_string()))?;
        Ok(Self { pair, jwk })
    }

    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    pub fn sign(&self, input: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.pair
            .sign(&SystemRandom::new(), input)
            .map(|signature| signature.as_ref().to_vec())
            .map_err(|_| KeyError::Signing("DPoP proof signing failed".into()))
    }
}

/// The 65-byte point at the end of a P-256 SubjectPublicKeyInfo (RFC 5480): the fixed 26-byte
/// prefix (id-ecPublicKey, secp256r1, a 66-byte BIT STRING), then the point.
fn p256_point_of_spki(spki: &[u8]) -> Option<&[u8]> {
    const PREFIX: [u8; 26] = [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];
    spki.strip_prefix(&PREFIX).filter(|point| point.len() == 65)
}

/// An ECDSA-Sig-Value (`SEQUENCE { INTEGER r, INTEGER s }`, RFC 3279) as the 64-byte `r || s`
/// JWS uses. Hand-written because it is the only DER okta-relay reads and it has one shape.
pub(crate) fn ecdsa_der_to_fixed(der: &[u8]) -> Option<Vec<u8>> {
    let (&tag, rest) = der.split_first()?;
    let (&length, body) = rest.split_first()?;
    if tag != 0x30 || usize::from(length) != body.len() {
        return None;
    }
    let mut fixed = Vec::with_capacity(64);
    let mut rest = body;
    for _ in 0..2 {
        let (&tag, after) = rest.split_first()?;
        let (&length, after) = after.split_first()?;
        let length = usize::from(length);
        if tag != 0x02 || after.len() < length || length == 0 {
            return None;
        }
        let (integer, after) = after.split_at(length);
        let integer = match integer {
            [0, tail @ ..] => tail,
            whole => whole,
        };
        if integer.len() > 32 {
            return None;
        }
        fixed.extend(std::iter::repeat_n(0, 32 - integer.len()));
        fixed.extend_from_slice(integer);
        rest = after;
    }
    rest.is_empty().then_some(fixed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED, UnparsedPublicKey,
    };
    use base64::Engine;

    #[test]
    fn a_der_ecdsa_signature_becomes_r_and_s() {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        for _ in 0..50 {
            let der = pair.sign(&SystemRandom::new(), b"message").unwrap();
            let fixed = ecdsa_der_to_fixed(der.as_ref()).unwrap();
            assert_eq!(fixed.len(), 64);
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, pair.public_key().as_ref())
                .verify(b"message", &fixed)
                .unwrap();
        }
        assert_eq!(ecdsa_der_to_fixed(&[0x30, 0x02, 0x02, 0x00]), None);
        assert_eq!(ecdsa_der_to_fixed(&[]), None);
    }

    #[test]
    fn a_pem_that_is_not_a_key_says_what_to_store() {
        let Err(error) = PemKey::parse(b"hello", "SSM parameter /k") else {
            panic!("parsed")
        };
        assert_eq!(
            error.to_string(),
            "the private key from SSM parameter /k is not usable (no PEM private key in it); store \
             the PEM Okta's console generated (\"-----BEGIN PRIVATE KEY-----\"), an RSA or P-256 key"
        );
    }

    #[test]
    fn a_pkcs8_p256_key_signs_and_publishes_its_point() {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let text = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref())
        );
        let key = PemKey::parse(text.as_bytes(), "env").unwrap();
        assert!(matches!(key.jwk, Jwk::Ec { .. }));
        let signature = key.sign(b"input").unwrap();
        assert_eq!(signature.len(), 64);
    }
}
