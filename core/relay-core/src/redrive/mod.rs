//! Redrive: putting a dead-letter queue's messages back in the inbox with today's routes, so
//! the relay delivers them paced like every other event (the one door to the flows).
//! - [`letter`]: what a message asks to be sent again ([`read_dead_letter`]);
//! - [`select`](mod@select): what that means with today's route table;
//! - [`drain`](mod@drain): walking the queue (the [`DeadLetterQueue`] port), deleting a message
//!   only once it is back in the inbox.

pub mod drain;
pub mod letter;
pub mod select;

pub use drain::{
    DeadLetterQueue, DrainOptions, Handled, QueueError, QueuedLetter, Redriver, Tally, drain,
};
pub use letter::{NotRedrivable, Redrive, read_dead_letter};
pub use select::{Selected, Unselectable, select};
