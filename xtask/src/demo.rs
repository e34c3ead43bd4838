use anyhow::Result;
pub fn run() -> Result<()> { anyhow::bail!("todo") }
