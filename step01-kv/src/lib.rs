//! Step 1 of minidynamo: DynamoDB's item model and the smallest store that
//! never loses an acknowledged write.
//!
//! This chapter is being written; the crate deliberately contains no
//! functionality until it lands.
