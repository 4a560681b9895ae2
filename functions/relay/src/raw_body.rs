//! lambda_runtime deserialises every payload before the handler runs, and a payload that fails
//! (not JSON, invalid escapes) never reaches the handler. The relay must dead-letter exactly those
//! payloads with a reason, so this layer takes each raw body out of the invocation, keyed by
//! request id, and passes `null` on for the handler's `()` payload.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use lambda_runtime::LambdaInvocation;
use lambda_runtime::tower::{Layer, Service};

#[derive(Clone, Default)]
pub struct RawBodies(Arc<Mutex<HashMap<String, Bytes>>>);

impl RawBodies {
    fn put(&self, request_id: String, body: Bytes) {
        if let Ok(mut bodies) = self.0.lock() {
            bodies.insert(request_id, body);
        }
    }

    /// The raw body of an invocation (empty if it was never seen).
    pub fn take(&self, request_id: &str) -> Bytes {
        self.0
            .lock()
            .ok()
            .and_then(|mut bodies| bodies.remove(request_id))
            .unwrap_or_default()
    }
}

pub struct RawBodyLayer(RawBodies);

impl RawBodyLayer {
    pub fn new(bodies: RawBodies) -> Self {
        Self(bodies)
    }
}

impl<S> Layer<S> for RawBodyLayer {
    type Service = RawBodyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RawBodyService {
            inner,
            bodies: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct RawBodyService<S> {
    inner: S,
    bodies: RawBodies,
}

impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for RawBodyService<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> Self::Future {
        let body = std::mem::replace(&mut invocation.body, Bytes::from_static(b"null"));
        self.bodies.put(invocation.context.request_id.clone(), body);
        self.inner.call(invocation)
    }
}
