//! The JWS compact serialization (RFC 7515 §7.1): `BASE64URL(header) . BASE64URL(claims) .
//! BASE64URL(signature)`. [`SigningInput`] is what a key signs; [`SigningInput::with_signature`]
//! joins the signature it made. JWKs (RFC 7517/7518) and their thumbprints (RFC 7638).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The signature algorithms okta-relay signs with; both are in Okta's
/// `token_endpoint_auth_signing_alg_values_supported` and `dpop_signing_alg_values_supported`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256: Okta console's generated keys, KMS `RSA_2048`.
    Rs256,
    /// ECDSA P-256 with SHA-256, the signature as `r || s` (64 bytes): DPoP keys, KMS
    /// `ECC_NIST_P256`.
    Es256,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }
}

/// A JOSE header: `typ` for DPoP proofs (`dpop+jwt`), `kid` naming the registered key,
/// `jwk` carrying a DPoP proof's public key.
#[derive(Debug, Clone, Serialize)]
pub struct Header<'a> {
    pub alg: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typ: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwk: Option<&'a Jwk>,
}

/// `BASE64URL(header) . BASE64URL(claims)`, the bytes a key signs.
#[derive(Debug, Clone)]
pub struct SigningInput(String);

impl SigningInput {
    pub fn new(header: &Header<'_>, claims: &impl Serialize) -> Result<Self, serde_json::Error> {
        let header = serde_json::to_vec(header)?;
        let claims = serde_json::to_vec(claims)?;
        Ok(Self(format!("{}.{}", b64(&header), b64(&claims))))
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The compact JWS: this input, a dot, the signature in base64url.
    pub fn with_signature(self, signature: &[u8]) -> String {
        let mut compact = self.0;
        compact.push('.');
        compact.push_str(&b64(signature));
        compact
    }
}

/// Base64url without padding, as every JOSE member is written.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A public key as a JWK: what Okta registers for a client and what a DPoP proof carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kty")]
pub enum Jwk {
    #[serde(rename = "RSA")]
    Rsa { n: String, e: String },
    #[serde(rename = "EC")]
    Ec { crv: String, x: String, y: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwkError {
    #[error("a P-256 public key is 65 bytes (0x04, x, y), not {0}; the key is not a P-256 key")]
    NotP256Point(usize),
    #[error("an RSA public key needs a modulus and an exponent; the key has an empty one")]
    EmptyRsaComponent,
}

impl Jwk {
    /// An RSA key from its big-endian modulus and exponent (leading zero bytes dropped, as
    /// RFC 7518 §6.3.1 requires).
    pub fn rsa(modulus: &[u8], exponent: &[u8]) -> Result<Self, JwkError> {
        let trim = |bytes: &[u8]| {
            let start = bytes
                .iter()
                .position(|&byte| byte != 0)
                .unwrap_or(bytes.len());
            bytes[start..].to_vec()
        };
        let (n, e) = (trim(modulus), trim(exponent));
        if n.is_empty() || e.is_empty() {
            return Err(JwkError::EmptyRsaComponent);
        }
        Ok(Self::Rsa {
            n: b64(&n),
            e: b64(&e),
        })
    }

    /// A P-256 key from its uncompressed SEC1 point.
    pub fn p256(point: &[u8]) -> Result<Self, JwkError> {
        match point {
            [0x04, coordinates @ ..] if coordinates.len() == 64 => Ok(Self::Ec {
                crv: "P-256".into(),
                x: b64(&coordinates[..32]),
                y: b64(&coordinates[32..]),
            }),
            _ => Err(JwkError::NotP256Point(point.len())),
        }
    }

    /// The RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order,
    /// base64url. Used as the `kid` of a key okta-relay publishes, and by a resource server to
    /// bind a DPoP token (`cnf.jkt`).
    pub fn thumbprint(&self) -> String {
        // serde_json writes these members in the order given, with no whitespace.
        let canonical = match self {
            Self::Rsa { n, e } => serde_json::json!({"e": e, "kty": "RSA", "n": n}),
            Self::Ec { crv, x, y } => {
                serde_json::json!({"crv": crv, "kty": "EC", "x": x, "y": y})
            }
        };
        b64(&Sha256::digest(canonical.to_string().as_bytes()))
    }

    /// The algorithm a signature by this key uses.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Self::Rsa { .. } => Algorithm::Rs256,
            Self::Ec { .. } => Algorithm::Es256,
        }
    }

    /// The key as it is pasted into an Okta API service app ("Add key" → paste a JWK), with
    /// `kid` (its thumbprint), `alg` and `use`.
    pub fn published(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.insert("kid".into(), self.thumbprint().into());
            object.insert("alg".into(), self.algorithm().name().into());
            object.insert("use".into(), "sig".into());
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thumbprint_of_rfc_7638s_example_key() {
        // RFC 7638 §3.1.
        let key = Jwk::Rsa {
            n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw".into(),
            e: "AQAB".into(),
        };
        assert_eq!(
            key.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn a_p256_point_becomes_x_and_y() {
        let mut point = vec![0x04];
        point.extend([1u8; 32]);
        point.extend([2u8; 32]);
        let Jwk::Ec { crv, x, y } = Jwk::p256(&point).unwrap() else {
            panic!("not an EC key")
        };
        assert_eq!(crv, "P-256");
        assert_eq!(x, b64(&[1u8; 32]));
        assert_eq!(y, b64(&[2u8; 32]));
        assert_eq!(
            Jwk::p256(&point[..33]).unwrap_err().to_string(),
            "a P-256 public key is 65 bytes (0x04, x, y), not 33; the key is not a P-256 key"
        );
    }

    #[test]
    fn rsa_components_lose_their_leading_zeros() {
        let Jwk::Rsa { n, e } = Jwk::rsa(&[0, 0, 0xC3, 0x01], &[0, 1, 0, 1]).unwrap() else {
            panic!("not an RSA key")
        };
        assert_eq!((n.as_str(), e.as_str()), ("wwE", "AQAB"));
        assert_eq!(Jwk::rsa(&[0], &[1]), Err(JwkError::EmptyRsaComponent));
    }

    #[test]
    fn a_signing_input_and_its_signature_make_three_dotted_parts() {
        let header = Header {
            alg: "ES256",
            typ: Some("dpop+jwt"),
            kid: None,
            jwk: None,
        };
        let input = SigningInput::new(&header, &serde_json::json!({"a": 1})).unwrap();
        let compact = input.with_signature(&[0xFF, 0xEE]);
        let parts: Vec<_> = compact.split('.').collect();
        assert_eq!(parts.len(), 3);
        let decoded = URL_SAFE_NO_PAD.decode(parts[0]).unwrap();
        assert_eq!(decoded, br#"{"alg":"ES256","typ":"dpop+jwt"}"#);
        assert_eq!(parts[2], "_-4");
    }

    #[test]
    fn a_published_key_carries_its_thumbprint_as_kid() {
        let key = Jwk::rsa(&[0xC3, 0x01], &[1, 0, 1]).unwrap();
        let published = key.published();
        assert_eq!(published["kid"], key.thumbprint());
        assert_eq!(published["alg"], "RS256");
        assert_eq!(published["use"], "sig");
        assert_eq!(published["kty"], "RSA");
    }
}
