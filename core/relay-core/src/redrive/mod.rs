//! Redrive: sending a dead-letter queue's messages again with today's routes.
//! - [`letter`]: what a message asks to be sent again ([`read_dead_letter`]);
//! - [`select`](mod@select): what that means with today's route table, and sending it;
//! - [`drain`](mod@drain): walking the queue (the [`DeadLetterQueue`] port), deleting only what
//!   every route accepted.

pub mod drain;
pub mod letter;
pub mod select;

pub use drain::{
    DeadLetterQueue, DrainOptions, Handled, QueueError, QueuedLetter, Redriver, Tally, drain,
};
pub use letter::{NotRedrivable, Redrive, read_dead_letter};
pub use select::{RedriveOutcome, Selected, Unselectable, select, send};
