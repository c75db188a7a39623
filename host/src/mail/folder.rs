//! The outbox folder transport: one `<message-id>.eml` file per message, written a batch
//! at a time.
//!
//! A file under its final name is a delivered mail, so a file only ever gets that name
//! once its bytes are durable: each message is written to `<name>.eml.tmp`, the batch's
//! files are made durable together (one `syncfs` of the folder's file system on Linux,
//! where a `fsync` per file costs milliseconds each; elsewhere a `fsync` per file), then
//! renamed, and the folder is synced once so the names are durable too. Only then does
//! the caller record the batch delivered. A crash anywhere leaves at most files whose
//! mail is not recorded yet; the next pass finds them under their final names and records
//! them delivered without writing them again, so a message id is written at most once.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Attempt, DeliveryError, render};
use crate::storage::OutboxEntry;

/// The file of a message in `folder`.
pub(super) fn message_path(folder: &Path, message_id: &str) -> PathBuf {
    folder.join(format!("{}.eml", file_stem(message_id)))
}

/// Writes a claimed batch into `folder`: what became of each mail, in the batch's order.
/// Mail whose file already exists is delivered (an earlier pass wrote it and stopped
/// before recording it). A mail that cannot be rendered fails; when the folder cannot be
/// written the mail that failed gets `Stop` and the rest of the batch is not tried, but
/// the files written before it are still made durable and count as delivered.
pub(super) fn write_batch(folder: &Path, batch: &[OutboxEntry]) -> Vec<Attempt> {
    let folder_error = |source: std::io::Error| {
        Attempt::Stop(DeliveryError::Folder {
            path: folder.to_owned(),
            source,
        })
    };
    if let Err(error) = std::fs::create_dir_all(folder) {
        let mut attempts = vec![folder_error(error)];
        attempts.resize_with(batch.len(), || Attempt::NotTried);
        return attempts;
    }
    let mut attempts = Vec::with_capacity(batch.len());
    // The temporary files written, with the index of their mail.
    let mut written: Vec<(usize, PathBuf, PathBuf)> = Vec::new();
    for (index, entry) in batch.iter().enumerate() {
        let path = message_path(folder, &entry.mail.message_id);
        if path.exists() {
            attempts.push(Attempt::Delivered);
            continue;
        }
        let message = match render(&entry.mail, entry.queued_at) {
            Ok(message) => message,
            Err(problem) => {
                attempts.push(Attempt::Fail(problem.to_string()));
                continue;
            }
        };
        let temporary = path.with_extension("eml.tmp");
        match write_file(&temporary, &message) {
            Ok(()) => {
                // Delivered once renamed, below; until then it stands for "written".
                attempts.push(Attempt::Delivered);
                written.push((index, temporary, path));
            }
            Err(error) => {
                attempts.push(folder_error(error));
                break;
            }
        }
    }
    attempts.resize_with(batch.len(), || Attempt::NotTried);
    if let Err(error) = make_durable(folder, &written) {
        // Nothing of this batch's writing counts: its mail is tried again (the files not
        // renamed are written again; those renamed are found and recorded).
        let mut error = Some(error);
        for (index, _, _) in &written {
            attempts[*index] = match error.take() {
                Some(error) => folder_error(error),
                None => Attempt::NotTried,
            };
        }
    }
    attempts
}

/// Makes the temporary files durable, renames each to its final name, then syncs the
/// folder so the names are durable.
fn make_durable(folder: &Path, written: &[(usize, PathBuf, PathBuf)]) -> std::io::Result<()> {
    if written.is_empty() {
        return Ok(());
    }
    let directory = File::open(folder)?;
    sync_file_system(&directory, written)?;
    for (_, temporary, path) in written {
        std::fs::rename(temporary, path)?;
    }
    directory.sync_all()
}

/// Makes the bytes of the written files durable: one `syncfs` for the whole batch.
#[cfg(target_os = "linux")]
fn sync_file_system(
    directory: &File,
    _written: &[(usize, PathBuf, PathBuf)],
) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    unsafe extern "C" {
        /// `syncfs(2)`: commits the file system holding `fd` to disk.
        fn syncfs(fd: std::ffi::c_int) -> std::ffi::c_int;
    }
    // SAFETY: `directory` is an open file for the duration of the call; syncfs only reads
    // the descriptor.
    if unsafe { syncfs(directory.as_raw_fd()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Makes the bytes of the written files durable: a `fsync` each.
#[cfg(not(target_os = "linux"))]
fn sync_file_system(
    _directory: &File,
    written: &[(usize, PathBuf, PathBuf)],
) -> std::io::Result<()> {
    for (_, temporary, _) in written {
        File::open(temporary)?.sync_all()?;
    }
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)
}

/// A file name for a message id: its safe characters, the rest as `_`.
pub(super) fn file_stem(message_id: &str) -> String {
    message_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@') {
                c
            } else {
                '_'
            }
        })
        .collect()
}
