//! What the benchmark tools (`weco-subload`, `weco-loadgen`) share: the server under test, started or found
//! ([`server`]), and what `/proc` says about processes ([`proc`]).

pub mod proc;
pub mod server;
