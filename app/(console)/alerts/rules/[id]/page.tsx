import { notFound, redirect } from "next/navigation";
import { uiAlertRules } from "@/lib/alerts/console";
import { RuleEditor } from "@/components/alerts/rule-editor";
import { requireUser } from "@/lib/auth/page";

export const metadata = { title: "Edit alert rule" };
export const dynamic = "force-dynamic";

/** Edits a rule created in the UI; built-in and file rules have no id and no page here. */
export default async function EditAlertRulePage({ params }: { params: Promise<{ id: string }> }) {
  const user = await requireUser();
  if (user.role !== "admin") redirect("/alerts/rules?denied=1");
  const { id } = await params;
  const rule = /^\d+$/.test(id)
    ? (await uiAlertRules(user)).find((r) => r.id === Number(id))
    : undefined;
  if (!rule) notFound();
  return (
    <>
      <h2 className="mb-4 text-lg font-semibold">Edit {rule.name}</h2>
      <RuleEditor rule={rule} />
    </>
  );
}
