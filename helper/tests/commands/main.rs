//! The person-facing commands with the real binary, each in a temporary HOME with an
//! environment of its own: `service`, `pair`, `doctor`.

mod home;

mod doctor;
mod pair;
mod service;
