//! The use cases of triage, each checking who asks
