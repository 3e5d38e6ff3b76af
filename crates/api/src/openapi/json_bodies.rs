//! The refusals every JSON body can meet before its handler runs (`rejection.rs`): listed on
//! every operation that takes one, so the document names every status the server answers.

use utoipa::Modify;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, ResponseBuilder};

/// Adds 400, 413 and 415 to every operation with an `application/json` request body.
pub(super) struct JsonBodyRefusals;

const REFUSALS: [(&str, &str); 3] = [
    ("400", "`invalid_json`: the body is not well-formed JSON"),
    (
        "413",
        "`payload_too_large`: the body is over `server.json_limit` bytes",
    ),
    (
        "415",
        "`unsupported_media_type`: the body is not `application/json`",
    ),
];

impl Modify for JsonBodyRefusals {
    fn modify(&self, openapi: &mut OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                if takes_json(operation) {
                    add_refusals(operation);
                }
            }
        }
    }
}

fn takes_json(operation: &Operation) -> bool {
    operation
        .request_body
        .as_ref()
        .is_some_and(|body| match body {
            RefOr::T(body) => body.content.contains_key("application/json"),
            RefOr::Ref(_) => false,
        })
}

fn add_refusals(operation: &mut Operation) {
    for (status, description) in REFUSALS {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| {
                RefOr::T(
                    ResponseBuilder::new()
                        .description(description)
                        .content(
                            "application/json",
                            Content::new(Some(Ref::from_schema_name("ErrorBody"))),
                        )
                        .build(),
                )
            });
    }
}
