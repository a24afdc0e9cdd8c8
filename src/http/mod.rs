//! HTTP pieces shared by the faces (the pages in `pages/` and the JSON API in `api/`), which
//! never import each other: reading a capped upload, sending a CSV download.

pub mod download;
pub mod upload;
