//! The analysis side of a job's life: handing queued jobs to the `Inference` port
//! (`ml/dispatch.rs`) and taking its completions (`ml/completion.rs`), by HTTP callback or as a
//! synchronous answer, through the same code.

mod completion;
mod dispatch;
mod settings;

pub use completion::CallbackToken;
pub use dispatch::{DispatchBatch, DispatchReport};
pub use settings::MlSettings;
