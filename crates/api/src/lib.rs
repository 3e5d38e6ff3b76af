//! The HTTP API: actix-web routes, error mapping, auth extractor, OpenAPI
