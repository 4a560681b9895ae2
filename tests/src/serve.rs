//! Running an axum app on a bound listener until its handle is dropped: how the harness's peers
//! stop when a test ends.

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A served app; dropping it shuts the server down gracefully.
pub struct Served(Option<oneshot::Sender<()>>);

pub fn serve(listener: TcpListener, app: Router) -> Served {
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    Served(Some(stop))
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.0.take() {
            let _ = stop.send(());
        }
    }
}
