//! Who may call: the platform's callback signature (`signature`) and the admin API's
//! bearer token (`token`). Pure checks, no I/O.

pub mod signature;
pub mod token;
