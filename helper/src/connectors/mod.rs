//! One module per connector, all of the same shape.

pub mod github;
pub mod manus;
pub mod mcp;
pub mod overview;
pub mod rclone;
pub mod vercel;
