//! The `minidynamo` server.
//!
//! Not assembled yet: the layers it is built from are being written chapter by
//! chapter. Until then this binary says honestly what it will be and exits 0.

fn main() {
    println!(
        "minidynamo {}: a DynamoDB-compatible server, built layer by layer.\n\
         \n\
         The server is not assembled yet. When it is, this command will serve\n\
         the DynamoDB API on http://127.0.0.1:8000 with data in ./data, and the\n\
         AWS CLI, boto3 and the AWS SDKs will use it unchanged via --endpoint-url.\n\
         \n\
         Today you can read the book (cargo xtask book --serve), run every test\n\
         (cargo xtask test), and start the workshop (cargo xtask workshop list).",
        env!("CARGO_PKG_VERSION")
    );
}
