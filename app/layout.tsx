import type { Metadata } from "next";
import { connection } from "next/server";
import type { ReactNode } from "react";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "brokerwatch", template: "%s · brokerwatch" },
  description: "Monitoring and alerting for MQTT brokers",
};

export default async function RootLayout({ children }: { children: ReactNode }) {
  // Every page renders per request, so each gets the script nonce proxy.ts minted for it (lib/csp.ts):
  // a page prerendered at build time would carry no nonce and its scripts would not run.
  await connection();
  return (
    <html lang="en">
      <body className="min-h-screen bg-zinc-50 text-zinc-900 antialiased dark:bg-zinc-950 dark:text-zinc-100">
        {children}
      </body>
    </html>
  );
}
