import { redirect } from "next/navigation";
import { RuleEditor } from "@/components/alerts/rule-editor";
import { requireUser } from "@/lib/auth/page";

export const metadata = { title: "New alert rule" };
export const dynamic = "force-dynamic";

export default async function NewAlertRulePage() {
  const user = await requireUser();
  // A viewer goes back to the read-only list, which says why.
  if (user.role !== "admin") redirect("/alerts/rules?denied=1");
  return (
    <>
      <h2 className="mb-4 text-lg font-semibold">New alert rule</h2>
      <RuleEditor />
    </>
  );
}
