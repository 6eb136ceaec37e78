"use client";

import { useEffect, useRef, useState } from "react";
import { smallButtonClass, smallDangerButtonClass, Spinner } from "./parts";

/**
 * A destructive action in two clicks, without a modal: the first click asks, the second does it.
 * Escape or leaving the button cancels. (window.confirm would block and is invisible to tests.)
 */
export function ConfirmButton({
  label,
  confirmLabel,
  onConfirm,
  disabled,
  title,
}: {
  label: string;
  confirmLabel: string;
  onConfirm: () => Promise<void>;
  disabled?: boolean;
  title?: string;
}) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const confirmRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) confirmRef.current?.focus();
  }, [asking]);

  if (!asking) {
    return (
      <button
        type="button"
        className={smallDangerButtonClass}
        disabled={disabled}
        title={title}
        onClick={() => setAsking(true)}
      >
        {label}
      </button>
    );
  }
  return (
    <span className="inline-flex gap-1" onKeyDown={(e) => e.key === "Escape" && setAsking(false)}>
      <button
        ref={confirmRef}
        type="button"
        className={`${smallDangerButtonClass} bg-red-50 dark:bg-red-950`}
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          try {
            await onConfirm();
          } finally {
            setBusy(false);
            setAsking(false);
          }
        }}
      >
        {busy && <Spinner />}
        {confirmLabel}
      </button>
      <button type="button" className={smallButtonClass} disabled={busy} onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}
