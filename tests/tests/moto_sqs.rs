#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! The suite's SQS (moto through `tools/moto_server.py`, fix 7) held to what SQS documents under
//! concurrency: a deleted message is gone for good ("DeleteMessage: Deletes the specified message
//! from the specified queue", SQS API reference), and a sent message is kept, however many
//! consumers delete and send at once. moto's own server rebuilds a queue's message list without
//! a lock: racing deletes brought deleted messages back after the visibility timeout (issue 17's
//! stall) and a send racing a delete could vanish.

use std::collections::BTreeSet;

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message};
use okta_relay_e2e::event_source_mapping::queue_depth;
use okta_relay_e2e::moto::{MotoServer, create_queue, drain_queue, send_bodies};

const MESSAGES: usize = 1000;
const CONSUMERS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_deletes_and_sends_neither_bring_back_nor_lose_a_message() {
    let moto = MotoServer::start().unwrap();
    let sdk = moto.sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = create_queue(&sdk, "racing").await.unwrap();
    let old: Vec<String> = (0..MESSAGES).map(|n| format!("old-{n}")).collect();
    send_bodies(&sdk, &queue, &old).await.unwrap();
    let handles: Vec<String> = receive_all(&sqs, &queue)
        .await
        .iter()
        .map(|m| m.receipt_handle().unwrap().to_owned())
        .collect();
    assert_eq!(handles.len(), MESSAGES);

    // Each consumer deletes its share in batches of ten, sending a new message after each.
    let chunks: Vec<Vec<String>> = handles.chunks(10).map(<[String]>::to_vec).collect();
    let consumers = (0..CONSUMERS).map(|consumer| {
        let (sqs, queue) = (sqs.clone(), queue.clone());
        let mine: Vec<Vec<String>> = chunks
            .iter()
            .skip(consumer)
            .step_by(CONSUMERS)
            .cloned()
            .collect();
        tokio::spawn(async move {
            let mut sent = Vec::new();
            for (n, chunk) in mine.iter().enumerate() {
                let entries = chunk
                    .iter()
                    .enumerate()
                    .map(|(id, handle)| {
                        DeleteMessageBatchRequestEntry::builder()
                            .id(id.to_string())
                            .receipt_handle(handle)
                            .build()
                            .unwrap()
                    })
                    .collect();
                let deleted = sqs
                    .delete_message_batch()
                    .queue_url(&queue)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .unwrap();
                assert!(deleted.failed().is_empty(), "{:?}", deleted.failed());
                let body = format!("new-{consumer}-{n}");
                sqs.send_message()
                    .queue_url(&queue)
                    .message_body(&body)
                    .send()
                    .await
                    .unwrap();
                sent.push(body);
            }
            sent
        })
    });
    let mut expected = BTreeSet::new();
    for consumer in consumers.collect::<Vec<_>>() {
        expected.extend(consumer.await.unwrap());
    }

    // A deleted message brought back is in flight (hidden for its visibility timeout): the
    // queue's depth counts it at once.
    let depth = queue_depth(&sqs, &queue).await.unwrap();
    let left: BTreeSet<String> = drain_queue(&sdk, &queue)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(
        depth,
        expected.len() as u64,
        "the queue holds {depth} messages after {} deletes and {} sends: deleted messages came back",
        MESSAGES,
        expected.len()
    );
    assert_eq!(
        left, expected,
        "every message sent meanwhile is kept, visible"
    );
}

/// Every visible message, each hidden for ten minutes once received and left in the queue.
async fn receive_all(sqs: &aws_sdk_sqs::Client, queue: &str) -> Vec<Message> {
    let mut messages = Vec::new();
    loop {
        let read = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .visibility_timeout(600)
            .send()
            .await
            .unwrap();
        if read.messages().is_empty() {
            return messages;
        }
        messages.extend(read.messages().iter().cloned());
    }
}
