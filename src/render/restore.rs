//! The human report of `restore --snapshot`.

use crate::cmd::restore::RestoreReport;
use crate::render::{Render, Style};
use crate::t;

impl Render for RestoreReport {
    fn render(&self, out: &mut String, style: Style) {
        let size = super::snapshot::human_bytes(self.image_bytes);
        if self.live && self.dry_run {
            out.push_str(&t!(
                "시험 실행: 스냅샷 {} 을(를) {} 에 복원하면 ({size}) 다음이 버려집니다\n",
                "dry run: restoring snapshot {} into {} ({size}) would discard\n",
                style.bold(&self.snapshot_id),
                self.target
            ));
        } else if self.live {
            out.push_str(&t!(
                "스냅샷 {} 을(를) {} 에 복원했습니다 ({size})\n",
                "restored snapshot {} into {} ({size})\n",
                style.bold(&self.snapshot_id),
                self.target
            ));
        } else {
            out.push_str(&t!(
                "스냅샷 {} 을(를) {} 에 썼습니다 ({size})\n",
                "wrote snapshot {} to {} ({size})\n",
                style.bold(&self.snapshot_id),
                self.target
            ));
            return;
        }
        if self.discarded.is_empty() {
            out.push_str(&t!(
                "  스냅샷 이후 바뀐 행이 없습니다\n",
                "  no row changed since the snapshot\n"
            ));
        }
        for d in &self.discarded {
            out.push_str(&t!(
                "  {}: 스냅샷에 없는 행 {}개, 값이 다른 행 {}개\n",
                "  {}: {} rows not in the snapshot, {} rows with other values\n",
                d.table,
                d.rows_only_live,
                d.rows_differ
            ));
        }
        if self.dry_run {
            out.push_str(&t!("아무것도 바꾸지 않았습니다\n", "nothing was changed\n"));
        } else if let Some(pre) = &self.pre_restore_snapshot_id {
            out.push_str(&t!(
                "복원 전 상태는 스냅샷 {pre} 에 있습니다 (되돌리기: jobsweep restore --snapshot {pre})\n",
                "the state before is in snapshot {pre} (to undo: jobsweep restore --snapshot {pre})\n"
            ));
        }
    }
}
